'use strict';
// Child of test/crash-resume.test.ts: saves a checkpoint over and over until it is killed.
//
//   node save_loop.cjs <dist/lib> <checkpoint path> <first version> <sync|async>
//
// Version v is a record {model: 4 tensors of 64K floats (1 MB), every value v, version: v}: a torn file
// would mix values or disagree with its version. Before each save it prints "start v", after it
// "done v" (synchronous writes to the pipe, so the parent knows what was on the way when it killed).
const fs = require('node:fs');

const path = require('node:path');

const [distLib, file, firstArg, mode] = process.argv.slice(2);
// Only what saving needs (the whole index takes several times longer to load).
const { save, saveAsync } = require(path.join(distLib, 'io', 'checkpoint.js'));
const { zeros } = require(path.join(distLib, 'tensor.js'));
const hn = { save, saveAsync, zeros };
const model = {};
for (let i = 0; i < 4; i++) model[`layer${i}.weight`] = hn.zeros([256, 256]);

async function main() {
  for (let v = Number(firstArg); ; v++) {
    for (const t of Object.values(model)) t.data.fill(v);
    fs.writeSync(1, `start ${v}\n`);
    if (mode === 'async') await hn.saveAsync({ model, version: v }, file);
    else hn.save({ model, version: v }, file);
    fs.writeSync(1, `done ${v}\n`);
  }
}
main();

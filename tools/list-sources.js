// Lists the C++ sources for binding.gyp (which has no glob): node tools/list-sources.js cpu|avx2|bindings
const fs = require('fs');
const path = require('path');
const dirs = { cpu: ['native/common', 'native/cpu'], avx2: ['native/cpu/avx2'], bindings: ['bindings'] };
const which = process.argv[2];
if (!dirs[which]) throw new Error(`list-sources: unknown group ${which}`);
const root = path.join(__dirname, '..');
const files = dirs[which].flatMap((dir) =>
  fs.existsSync(path.join(root, dir))
    ? fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.cc')).sort().map((f) => `${dir}/${f}`)
    : []);
process.stdout.write(files.join(' '));

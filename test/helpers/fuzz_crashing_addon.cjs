'use strict';
// A stand-in "addon" for the fuzz harness's self-test: one function crashes the process (SIGSEGV)
// when any argument is NaN, as a binding that trusted a size would. The harness must report the
// signal and print that call.
module.exports = {
  crashOnNaN(...args) {
    if (args.some((a) => typeof a === 'number' && Number.isNaN(a))) process.kill(process.pid, 'SIGSEGV');
    throw new TypeError('crashOnNaN: expected no arguments');
  },
};

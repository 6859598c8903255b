// A CommonJS module that adds to `exports` (and reads `this` and `module`).
exports.x = 1;
exports.thisIsExports = this === exports;
exports.same = module.exports === exports;
exports.add = function (a, b) { return a + b; };

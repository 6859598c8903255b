// A CommonJS module that replaces `module.exports`, and requires a k6 module itself.
const http = require('k6/http');
module.exports = function greet(name) { return 'hi ' + name; };
module.exports.hasHttp = typeof http.get === 'function';

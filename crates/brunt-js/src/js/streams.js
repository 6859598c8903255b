// k6/experimental/streams: the WHATWG Streams algorithms for default (non-byte) streams, as k6
// has them: ReadableStream with its default controller and reader, CountQueuingStrategy, and
// (k6 v2) WritableStream with its default controller and writer. Like k6, no byte streams, no
// `tee()` and no piping. Errors of k6's own kinds are Errors named after the kind.

function streamError(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}
const typeError = (message) => new TypeError(message);
const resolved = (v) => Promise.resolve(v);
const rejected = (e) => Promise.reject(e);

// Adds `fields` to `obj` as state that scripts do not see listed (non-enumerable).
function hidden(obj, fields) {
  for (const [k, v] of Object.entries(fields)) Object.defineProperty(obj, k, { value: v, writable: true });
}

// A promise with its settle functions, marked handled so that an unread rejection is not logged.
function deferred() {
  const d = {};
  d.promise = new Promise((res, rej) => { d.resolve = res; d.reject = rej; });
  d.promise.catch(() => {});
  return d;
}

// Calls `obj[name](...args)` if present, as a promise (a throw becomes a rejection).
function promiseCall(obj, name, args) {
  const f = obj[name];
  if (f === undefined) return resolved(undefined);
  if (typeof f !== 'function') return rejected(typeError(`${name} must be a function`));
  try {
    return resolved(f.apply(obj, args));
  } catch (e) {
    return rejected(e);
  }
}

// The spec's ExtractHighWaterMark and ExtractSizeAlgorithm.
function strategyOf(strategy, defaultHwm) {
  const s = strategy === undefined || strategy === null ? {} : strategy;
  let hwm = s.highWaterMark === undefined ? defaultHwm : Number(s.highWaterMark);
  if (Number.isNaN(hwm) || hwm < 0) throw new RangeError('highWaterMark must be a non-negative number');
  const size = s.size === undefined ? () => 1 : s.size;
  if (typeof size !== 'function') throw typeError('size must be a function');
  return { hwm, size };
}

// A queue of chunks with their sizes (the spec's queue-with-sizes).
class SizedQueue {
  constructor() { this.items = []; this.total = 0; }
  push(value, size) {
    if (typeof size !== 'number' || !Number.isFinite(size) || size < 0) {
      throw new RangeError('chunk size must be a finite, non-negative number');
    }
    this.items.push({ value, size });
    this.total += size;
  }
  shift() {
    const { value, size } = this.items.shift();
    this.total = Math.max(0, this.total - size);
    return value;
  }
  peek() { return this.items[0].value; }
  get length() { return this.items.length; }
  reset() { this.items = []; this.total = 0; }
}

export class CountQueuingStrategy {
  constructor(init) {
    if (init === undefined || init === null || init.highWaterMark === undefined) {
      throw typeError('highWaterMark is required');
    }
    this.highWaterMark = Number(init.highWaterMark);
  }
  size() { return 1; }
}

const READABLE = Symbol('readable');
const WRITABLE = Symbol('writable');

export class ReadableStream {
  constructor(underlyingSource, strategy) {
    const source = underlyingSource === undefined ? {} : underlyingSource;
    if (source === null || typeof source !== 'object') throw typeError('underlyingSource must be an object');
    if (source.type === 'bytes') throw streamError('NotSupportedError', "'bytes' stream is not supported yet");
    if (source.type !== undefined) throw streamError('AssertionError', 'type must not be set for non-byte streams');
    const { hwm, size } = strategyOf(strategy, 1);
    const s = { state: 'readable', reader: undefined, storedError: undefined, disturbed: false };
    Object.defineProperty(this, READABLE, { value: s });
    const c = new ReadableStreamDefaultController(s, source, hwm, size);
    s.controller = c;
    promiseCall(source, 'start', [c]).then(() => {
      c._started = true;
      c._pullIfNeeded();
    }, (e) => c._error(e));
  }
  get locked() { return this[READABLE].reader !== undefined; }
  cancel(reason) {
    if (this.locked) return rejected(typeError('cannot cancel a stream locked to a reader'));
    return cancelReadable(this[READABLE], reason);
  }
  getReader(options) {
    if (options !== undefined && options !== null && options.mode !== undefined) {
      if (options.mode === 'byob') throw streamError('NotSupportedError', 'byob readers are not supported yet');
      throw typeError(`invalid reader mode '${options.mode}'`);
    }
    return new ReadableStreamDefaultReader(this);
  }
  tee() { throw streamError('NotSupportedError', "'tee()' is not supported yet"); }
}

class ReadableStreamDefaultController {
  constructor(stream, source, hwm, size) {
    hidden(this, {
      _stream: stream, _source: source, _queue: new SizedQueue(), _hwm: hwm, _size: size,
      _started: false, _closeRequested: false, _pulling: false, _pullAgain: false,
    });
  }
  get desiredSize() {
    const { state } = this._stream;
    if (state === 'errored') return null;
    if (state === 'closed') return 0;
    return this._hwm - this._queue.total;
  }
  close() {
    if (!this._canCloseOrEnqueue()) throw typeError('the stream is closed or closing');
    this._closeRequested = true;
    if (this._queue.length === 0) closeReadable(this._stream);
  }
  enqueue(chunk) {
    if (!this._canCloseOrEnqueue()) throw typeError('cannot enqueue into a stream that is closed or closing');
    const reader = this._stream.reader;
    if (reader !== undefined && reader._requests.length > 0) {
      reader._requests.shift().resolve({ value: chunk, done: false });
    } else {
      let size;
      try {
        size = this._size(chunk);
        this._queue.push(chunk, size);
      } catch (e) {
        this._error(e);
        throw e;
      }
    }
    this._pullIfNeeded();
  }
  error(e) { this._error(e); }

  _canCloseOrEnqueue() { return !this._closeRequested && this._stream.state === 'readable'; }
  _error(e) {
    if (this._stream.state !== 'readable') return;
    this._queue.reset();
    errorReadable(this._stream, e);
  }
  _shouldPull() {
    if (!this._canCloseOrEnqueue() || !this._started) return false;
    const reader = this._stream.reader;
    if (reader !== undefined && reader._requests.length > 0) return true;
    return this.desiredSize > 0;
  }
  _pullIfNeeded() {
    if (!this._shouldPull()) return;
    if (this._pulling) {
      this._pullAgain = true;
      return;
    }
    this._pulling = true;
    promiseCall(this._source, 'pull', [this]).then(() => {
      this._pulling = false;
      if (this._pullAgain) {
        this._pullAgain = false;
        this._pullIfNeeded();
      }
    }, (e) => this._error(e));
  }
  // A reader's read(): a queued chunk, or a request the next enqueue fulfils.
  _pullSteps(request) {
    if (this._queue.length > 0) {
      const value = this._queue.shift();
      if (this._closeRequested && this._queue.length === 0) closeReadable(this._stream);
      else this._pullIfNeeded();
      request.resolve({ value, done: false });
      return;
    }
    this._stream.reader._requests.push(request);
    this._pullIfNeeded();
  }
}

function closeReadable(s) {
  s.state = 'closed';
  const reader = s.reader;
  if (reader === undefined) return;
  for (const r of reader._requests.splice(0)) r.resolve({ value: undefined, done: true });
  reader._closed.resolve(undefined);
}

function errorReadable(s, e) {
  s.state = 'errored';
  s.storedError = e;
  const reader = s.reader;
  if (reader === undefined) return;
  for (const r of reader._requests.splice(0)) r.reject(e);
  reader._closed.reject(e);
}

function cancelReadable(s, reason) {
  s.disturbed = true;
  if (s.state === 'closed') return resolved(undefined);
  if (s.state === 'errored') return rejected(s.storedError);
  closeReadable(s);
  s.controller._queue.reset();
  return promiseCall(s.controller._source, 'cancel', [reason]).then(() => undefined);
}

export class ReadableStreamDefaultReader {
  constructor(stream) {
    const s = stream !== null && typeof stream === 'object' ? stream[READABLE] : undefined;
    if (s === undefined) throw typeError('the argument is not a ReadableStream');
    if (s.reader !== undefined) throw typeError('the stream is already locked to a reader');
    hidden(this, { _stream: s, _requests: [], _closed: deferred() });
    s.reader = this;
    if (s.state === 'closed') this._closed.resolve(undefined);
    if (s.state === 'errored') this._closed.reject(s.storedError);
  }
  get closed() { return this._closed.promise; }
  read() {
    const s = this._stream;
    if (s === undefined) return rejected(typeError('the reader has been released'));
    s.disturbed = true;
    if (s.state === 'closed') return resolved({ value: undefined, done: true });
    if (s.state === 'errored') return rejected(s.storedError);
    const d = deferred();
    s.controller._pullSteps(d);
    return d.promise;
  }
  cancel(reason) {
    if (this._stream === undefined) return rejected(typeError('the reader has been released'));
    return cancelReadable(this._stream, reason);
  }
  releaseLock() {
    const s = this._stream;
    if (s === undefined) return;
    const e = typeError('the reader has been released');
    for (const r of this._requests.splice(0)) r.reject(e);
    if (s.state === 'readable') this._closed.reject(e);
    else {
      this._closed = deferred();
      this._closed.reject(e);
    }
    s.reader = undefined;
    this._stream = undefined;
  }
}

export class WritableStream {
  constructor(underlyingSink, strategy) {
    const sink = underlyingSink === undefined ? {} : underlyingSink;
    if (sink === null || typeof sink !== 'object') throw typeError('underlyingSink must be an object');
    if (sink.type !== undefined) throw new RangeError("'type' is not supported by WritableStream");
    const { hwm, size } = strategyOf(strategy, 1);
    const s = {
      state: 'writable', storedError: undefined, writer: undefined, writeRequests: [],
      inFlightWrite: undefined, closeRequest: undefined, inFlightClose: undefined,
      pendingAbort: undefined, backpressure: false,
    };
    Object.defineProperty(this, WRITABLE, { value: s });
    const c = new WritableStreamDefaultController(s, sink, hwm, size);
    s.controller = c;
    updateBackpressure(s, c._backpressure());
    promiseCall(sink, 'start', [c]).then(() => {
      c._started = true;
      c._advance();
    }, (e) => {
      c._started = true;
      dealWithRejection(s, e);
    });
  }
  get locked() { return this[WRITABLE].writer !== undefined; }
  abort(reason) {
    if (this.locked) return rejected(typeError('cannot abort a locked stream'));
    return abortWritable(this[WRITABLE], reason);
  }
  close() {
    const s = this[WRITABLE];
    if (this.locked) return rejected(typeError('cannot close a locked stream'));
    if (s.closeRequest !== undefined || s.inFlightClose !== undefined) return rejected(typeError('stream is already closing'));
    return closeWritable(s);
  }
  getWriter() { return new WritableStreamDefaultWriter(this); }
}

class WritableStreamDefaultController {
  constructor(stream, sink, hwm, size) {
    hidden(this, {
      _stream: stream, _sink: sink, _queue: new SizedQueue(), _hwm: hwm, _size: size, _started: false,
    });
  }
  error(e) {
    if (this._stream.state === 'writable') this._errorStream(e);
  }
  _desiredSize() { return this._hwm - this._queue.total; }
  _backpressure() { return this._desiredSize() <= 0; }
  _errorStream(e) {
    this._queue.reset();
    startErroring(this._stream, e);
  }
  _write(chunk) {
    const s = this._stream;
    let size;
    try {
      size = this._size(chunk);
      this._queue.push(chunk, size);
    } catch (e) {
      if (s.state === 'writable') this._errorStream(e);
      return;
    }
    if (s.closeRequest === undefined && s.state === 'writable') updateBackpressure(s, this._backpressure());
    this._advance();
  }
  _advance() {
    const s = this._stream;
    if (!this._started || s.inFlightWrite !== undefined) return;
    if (s.state === 'erroring') {
      finishErroring(s);
      return;
    }
    if (this._queue.length === 0) return;
    if (this._queue.peek() === CLOSE) {
      this._queue.shift();
      s.inFlightClose = s.closeRequest;
      s.closeRequest = undefined;
      promiseCall(this._sink, 'close', []).then(() => {
        s.inFlightClose.resolve(undefined);
        s.inFlightClose = undefined;
        if (s.state === 'erroring') {
          s.storedError = undefined;
          if (s.pendingAbort !== undefined) {
            s.pendingAbort.resolve(undefined);
            s.pendingAbort = undefined;
          }
        }
        s.state = 'closed';
        if (s.writer !== undefined) s.writer._closed.resolve(undefined);
      }, (e) => {
        s.inFlightClose.reject(e);
        s.inFlightClose = undefined;
        if (s.pendingAbort !== undefined) {
          s.pendingAbort.reject(e);
          s.pendingAbort = undefined;
        }
        dealWithRejection(s, e);
      });
      return;
    }
    const chunk = this._queue.peek();
    s.inFlightWrite = s.writeRequests.shift();
    promiseCall(this._sink, 'write', [chunk, this]).then(() => {
      s.inFlightWrite.resolve(undefined);
      s.inFlightWrite = undefined;
      this._queue.shift();
      if (s.closeRequest === undefined && s.state === 'writable') updateBackpressure(s, this._backpressure());
      this._advance();
    }, (e) => {
      if (s.state === 'writable') this._queue.reset();
      s.inFlightWrite.reject(e);
      s.inFlightWrite = undefined;
      dealWithRejection(s, e);
    });
  }
}

// The close marker in a writable stream's queue.
const CLOSE = Symbol('close');

function updateBackpressure(s, backpressure) {
  const w = s.writer;
  if (w !== undefined && backpressure !== s.backpressure) {
    if (backpressure) w._ready = deferred();
    else w._ready.resolve(undefined);
  }
  s.backpressure = backpressure;
}

function closeWritable(s) {
  if (s.state === 'closed' || s.state === 'errored') {
    return rejected(typeError('stream is already closed or errored'));
  }
  const d = deferred();
  s.closeRequest = d;
  if (s.writer !== undefined && s.backpressure && s.state === 'writable') s.writer._ready.resolve(undefined);
  s.controller._queue.push(CLOSE, 0);
  s.controller._advance();
  return d.promise;
}

function abortWritable(s, reason) {
  if (s.state === 'closed' || s.state === 'errored') return resolved(undefined);
  if (s.pendingAbort !== undefined) return s.pendingAbort.promise;
  const wasErroring = s.state === 'erroring';
  const d = deferred();
  d.reason = reason;
  d.wasAlreadyErroring = wasErroring;
  s.pendingAbort = d;
  if (!wasErroring) startErroring(s, reason);
  return d.promise;
}

function dealWithRejection(s, e) {
  if (s.state === 'writable') {
    startErroring(s, e);
    return;
  }
  finishErroring(s);
}

function startErroring(s, reason) {
  s.storedError = reason;
  s.state = 'erroring';
  if (s.writer !== undefined) {
    s.writer._ready = deferred();
    s.writer._ready.reject(reason);
  }
  if (s.inFlightWrite === undefined && s.inFlightClose === undefined && s.controller._started) finishErroring(s);
}

function finishErroring(s) {
  if (s.state !== 'erroring' || s.inFlightWrite !== undefined || s.inFlightClose !== undefined) return;
  s.state = 'errored';
  s.controller._queue.reset();
  const e = s.storedError;
  for (const r of s.writeRequests.splice(0)) r.reject(e);
  const rejectClosed = () => {
    if (s.closeRequest !== undefined) {
      s.closeRequest.reject(e);
      s.closeRequest = undefined;
    }
    if (s.writer !== undefined) s.writer._closed.reject(e);
  };
  const abort = s.pendingAbort;
  s.pendingAbort = undefined;
  if (abort === undefined) {
    rejectClosed();
    return;
  }
  if (abort.wasAlreadyErroring) {
    abort.reject(e);
    rejectClosed();
    return;
  }
  promiseCall(s.controller._sink, 'abort', [abort.reason]).then(() => {
    abort.resolve(undefined);
    rejectClosed();
  }, (err) => {
    abort.reject(err);
    rejectClosed();
  });
}

export class WritableStreamDefaultWriter {
  constructor(stream) {
    const s = stream !== null && typeof stream === 'object' ? stream[WRITABLE] : undefined;
    if (s === undefined) throw typeError('the argument is not a WritableStream');
    if (s.writer !== undefined) throw typeError('the stream is already locked to a writer');
    hidden(this, { _stream: s, _ready: deferred(), _closed: deferred() });
    s.writer = this;
    if (s.state === 'writable') {
      if (!(s.backpressure && s.closeRequest === undefined && s.inFlightClose === undefined)) this._ready.resolve(undefined);
    } else if (s.state === 'erroring') {
      this._ready.reject(s.storedError);
    } else if (s.state === 'closed') {
      this._ready.resolve(undefined);
      this._closed.resolve(undefined);
    } else {
      this._ready.reject(s.storedError);
      this._closed.reject(s.storedError);
    }
  }
  get ready() { return this._ready.promise; }
  get closed() { return this._closed.promise; }
  get desiredSize() {
    const s = this._stream;
    if (s === undefined) throw typeError('the writer has been released');
    if (s.state === 'errored' || s.state === 'erroring') return null;
    if (s.state === 'closed') return 0;
    return s.controller._desiredSize();
  }
  abort(reason) {
    if (this._stream === undefined) return rejected(typeError('the writer has been released'));
    return abortWritable(this._stream, reason);
  }
  close() {
    const s = this._stream;
    if (s === undefined) return rejected(typeError('the writer has been released'));
    if (s.closeRequest !== undefined || s.inFlightClose !== undefined) return rejected(typeError('stream is already closing'));
    return closeWritable(s);
  }
  write(chunk) {
    const s = this._stream;
    if (s === undefined) return rejected(typeError('the writer has been released'));
    if (s.state === 'errored' || s.state === 'erroring') return rejected(s.storedError);
    if (s.closeRequest !== undefined || s.inFlightClose !== undefined || s.state === 'closed') {
      return rejected(typeError('cannot write to a stream that is closed or closing'));
    }
    const d = deferred();
    s.writeRequests.push(d);
    s.controller._write(chunk);
    return d.promise;
  }
  releaseLock() {
    const s = this._stream;
    if (s === undefined) return;
    const e = typeError('the writer has been released');
    this._ready = deferred();
    this._ready.reject(e);
    this._closed = deferred();
    this._closed.reject(e);
    s.writer = undefined;
    this._stream = undefined;
  }
}

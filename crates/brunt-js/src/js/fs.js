// k6/experimental/fs: files opened in the init context and read through promises. Failures
// reject with k6's `{name, message}` objects.
const n = globalThis.__brunt_native('fs');
const KINDS = /^(?:Error: )?(NotFoundError|InvalidResourceError|ForbiddenError|TypeError|EOFError): ([\s\S]*)$/;
// The native handle of a File, for k6/experimental/csv.
const HANDLE = Symbol.for('brunt.fs.file');

export const SeekMode = Object.freeze({ Start: 0, Current: 1, End: 2 });

function fsError(name, message) {
  return { name, message };
}

// Runs a native call as k6 settles its promises: kinds become `{name, message}` rejections.
function settle(call) {
  try {
    return Promise.resolve(call());
  } catch (e) {
    const m = KINDS.exec(e && e.message !== undefined ? `${e.name}: ${e.message}` : String(e));
    return Promise.reject(m ? fsError(m[1], m[2]) : e);
  }
}

function makeFile(handle, path) {
  const file = {
    path,
    read(into) {
      if (into === null || into === undefined) {
        return Promise.reject(fsError('TypeError', 'read() failed; reason: into argument cannot be null or undefined'));
      }
      if (Object(into).constructor !== Uint8Array) {
        return Promise.reject(fsError('TypeError', 'read() failed; reason: into argument must be a Uint8Array'));
      }
      return settle(() => {
        const got = n.read(handle, into.length);
        if (got === null) return null;
        into.set(new Uint8Array(got));
        return got.byteLength;
      });
    },
    seek(offset, whence) {
      for (const [name, v] of [['offset', offset], ['whence', whence]]) {
        if (v === null || v === undefined) {
          return Promise.reject(fsError('TypeError', `seek() failed; reason: the ${name} argument cannot be null or undefined`));
        }
        if (!Number.isInteger(v)) {
          return Promise.reject(fsError('TypeError', `seek() failed; reason: the ${name} argument must be a number`));
        }
      }
      if (whence < 0 || whence > 2) {
        return Promise.reject(fsError('TypeError', 'seek() failed; reason: the whence argument must be a SeekMode'));
      }
      return settle(() => n.seek(handle, offset, whence));
    },
    stat() {
      return settle(() => ({ name: path.slice(path.lastIndexOf('/') + 1), size: n.stat(handle) }));
    },
  };
  Object.defineProperty(file, HANDLE, { value: handle });
  return file;
}

export function open(path) {
  if (path === null || path === undefined) {
    return Promise.reject(fsError('TypeError', 'open() failed; reason: path cannot be null or undefined'));
  }
  return settle(() => {
    const [handle, abs] = n.open(String(path));
    return makeFile(handle, abs);
  });
}

export default { open, SeekMode };

// k6/data: SharedArray, an array-like view of data kept once for the whole run.
const n = globalThis.__brunt_native('data');

export class SharedArray {
  constructor(name, build) {
    if (typeof build !== 'function') {
      throw new TypeError('SharedArray needs a function that returns an array');
    }
    const [handle, length] = n.sharedArray(String(name), build);
    const get = (i) => n.sharedGet(handle, i);
    let copy = null;
    const asArray = () => {
      if (copy === null) {
        copy = [];
        for (let i = 0; i < length; i++) copy.push(get(i));
      }
      return copy;
    };
    const target = Object.create(SharedArray.prototype);
    return new Proxy(target, {
      get(t, p) {
        if (p === 'length') return length;
        if (typeof p === 'string' && p !== '' && p >= '0' && p <= '9' && String(p >>> 0) === p) {
          return get(Number(p));
        }
        if (p === Symbol.iterator) {
          return function* items() {
            for (let i = 0; i < length; i++) yield get(i);
          };
        }
        const m = Array.prototype[p];
        if (typeof m === 'function') return (...args) => m.apply(asArray(), args);
        return t[p];
      },
      set() {
        throw new TypeError('SharedArray is read-only');
      },
      has(t, p) {
        if (typeof p === 'string' && String(p >>> 0) === p) return Number(p) < length;
        return p === 'length' || p in t;
      },
    });
  }
}

export default { SharedArray };

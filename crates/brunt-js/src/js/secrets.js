// k6/secrets: the default export reads the default source; `source(name)` another. Values come
// through promises and rejections are k6's messages as strings, as in k6.
const n = globalThis.__brunt_native('secrets');

function source(name) {
  return {
    get(key) {
      return new Promise((resolve, reject) => {
        try {
          resolve(n.get(name, String(key)));
        } catch (e) {
          reject(e.message);
        }
      });
    },
  };
}

const secrets = source('default');
secrets.source = (name) => source(String(name));
export default secrets;

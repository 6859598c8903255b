// k6/secrets with a file source (the default) and a named mock source; values come through
// promises, a missing key and an unknown source reject.
// k6-compare: args --secret-source=file=default,filename=data/secrets.env --secret-source=mock=name=other,token=mock-token
import secrets from 'k6/secrets';
import { check } from 'k6';

export const options = { iterations: 1 };

export default async function () {
  const pending = secrets.get('token');
  check(pending, { 'get returns a promise': (p) => p instanceof Promise });
  const token = await pending;
  const user = await secrets.get('user');
  const other = await secrets.source('other').get('token');
  let missing = 'resolved';
  try {
    await secrets.get('absent');
  } catch (e) {
    missing = String(e);
  }
  let unknown = 'resolved';
  try {
    await secrets.source('nowhere').get('token');
  } catch (e) {
    unknown = String(e);
  }
  check(null, {
    'file source is the default': () => token === 's3cr3t-t0ken' && user === 'alice',
    'named source': () => other === 'mock-token',
    'missing key rejects': () => missing === 'no value',
    'unknown source rejects': () => unknown === 'no secret source with name "nowhere" is configured',
    'exports get and source': () => typeof secrets.get === 'function' && typeof secrets.source === 'function',
  });
}

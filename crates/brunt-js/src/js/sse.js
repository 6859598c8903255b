// k6/x/sse: the xk6-sse extension's API, built in. sse.open(url, [params], setup) sends the
// request, runs setup(client), then the client's 'open' handler, its 'event' handler for each
// event as it arrives ({id, name, data, comment}) and its 'error' handler ({error()}) for a
// failed read, until the stream ends or a handler calls client.close(); it returns
// {url, status, headers, error}. params: method (GET), body, headers, tags, timeout ('10s').
const n = globalThis.__brunt_native('sse');

function failure(message) {
  return { error: () => message, toString: () => message };
}

export function open(url, params, setup) {
  if (setup === undefined) {
    setup = params;
    params = undefined;
  }
  if (typeof setup !== 'function') {
    throw new Error('last argument to sse.open must be a function');
  }
  const p = params === undefined || params === null ? {} : params;
  const method = p.method ? String(p.method).trim() : 'GET';
  const body = p.body === undefined || p.body === null ? null : String(p.body).trim();
  const res = n.open(String(url), method, body, p.headers || null, p.timeout ?? null, p.tags || null);
  if (res.error) {
    // As xk6-sse: the setup function has not run, so no handler sees a failed connection.
    return res;
  }
  const handlers = {};
  let closed = false;
  const client = {
    on(event, handler) {
      handlers[event] = handler;
    },
    close() {
      closed = true;
    },
  };
  const fire = (event, arg) => {
    const handler = handlers[event];
    if (typeof handler === 'function') handler(arg);
  };
  // A handler that throws ends the exchange too (its connection closed, its request counted).
  try {
    setup(client);
    fire('open');
    while (!closed) {
      const batch = n.next();
      for (const event of batch.events) {
        if (closed) break;
        fire('event', event);
      }
      if (batch.error) fire('error', failure(batch.error));
      if (batch.done) break;
    }
  } finally {
    n.close();
  }
  return res;
}

export default { open };

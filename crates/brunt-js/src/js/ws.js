// k6/ws: k6's blocking WebSocket API. ws.connect(url, [params], setup) opens the socket, runs
// setup(socket), then the socket's 'open' handler, and its other handlers ('message',
// 'binaryMessage', 'ping', 'pong', 'error', 'close') and timers as they come due, until the
// socket closes; it returns {url, status, headers, body, error}. params: headers, tags, jar (the
// VU's own by default), compression ('deflate': permessage-deflate, as k6 offers it).
const n = globalThis.__brunt_native('ws');

function failure(message) {
  return { error: () => message, toString: () => message };
}

// k6's close code when the script does not give one: going away.
const GOING_AWAY = 1001;

export function connect(url, ...args) {
  let params;
  let setup;
  if (args.length === 2) {
    [params, setup] = args;
  } else if (args.length === 1) {
    [setup] = args;
  } else {
    throw new Error('invalid number of arguments to ws.connect');
  }
  if (typeof setup !== 'function') {
    throw new Error('last argument to ws.connect must be a function');
  }
  const p = params === undefined || params === null ? {} : params;
  // As k6: a blank algorithm is none.
  let compress = false;
  if (Object.hasOwn(p, 'compression')) {
    const algo = String(p.compression).trim();
    if (algo !== '' && algo !== 'deflate') {
      throw new Error(`unsupported compression algorithm '${algo}', supported algorithm is 'deflate'`);
    }
    compress = algo === 'deflate';
  }
  const res = n.connect(String(url), p.headers || null, p.tags || null, p.jar ?? null, compress);
  const opened = res.opened;
  delete res.opened;
  if (!opened) {
    // As k6: the setup function has not run, so no handler sees a failed handshake.
    return res;
  }

  const handlers = {};
  const timers = [];
  let closed = false;
  const fire = (event, arg) => {
    for (const handler of handlers[event] || []) {
      if (arg === undefined) handler();
      else handler(arg);
    }
  };
  const shut = (code) => {
    if (closed) return;
    closed = true;
    n.close(code);
    fire('close', code);
  };
  const schedule = (fn, ms, repeat, what) => {
    const d = Number(ms);
    if (!(d > 0)) {
      throw new Error(`${what} requires a >0 timeout parameter, received ${d.toFixed(2)}`);
    }
    if (typeof fn !== 'function') {
      throw new Error(`${what} requires a function`);
    }
    timers.push({ at: Date.now() + d, every: repeat ? d : 0, fn });
  };
  const sent = (err) => {
    if (err) fire('error', failure(err));
  };
  const socket = {
    on(event, handler) {
      if (typeof handler !== 'function') return;
      (handlers[event] = handlers[event] || []).push(handler);
    },
    send(message) {
      sent(n.send(message, false));
    },
    sendBinary(message) {
      if (message === undefined || message === null) {
        throw new Error('missing argument, expected ArrayBuffer');
      }
      sent(n.send(message, true));
    },
    ping() {
      sent(n.ping());
    },
    setTimeout(fn, ms) {
      schedule(fn, ms, false, 'setTimeout');
    },
    setInterval(fn, ms) {
      schedule(fn, ms, true, 'setInterval');
    },
    close(code) {
      shut(code === undefined ? GOING_AWAY : Math.trunc(Number(code)));
    },
  };

  // A throwing setup or handler closes the socket (going away) and ends the call with its error.
  try {
    setup(socket);
    fire('open');
    while (!closed) {
      let due = -1;
      for (const t of timers) {
        if (due < 0 || t.at < due) due = t.at;
      }
      if (due >= 0 && due <= Date.now()) {
        const t = timers.reduce((a, b) => (b.at < a.at ? b : a));
        if (t.every > 0) t.at += t.every;
        else timers.splice(timers.indexOf(t), 1);
        t.fn();
        continue;
      }
      const ev = n.next(due < 0 ? -1 : due - Date.now());
      switch (ev.type) {
        case 'message':
        case 'binaryMessage':
          fire(ev.type, ev.data);
          break;
        case 'ping':
        case 'pong':
          fire(ev.type);
          break;
        case 'close':
          if (ev.error) fire('error', failure(ev.error));
          shut(ev.code);
          break;
        default:
          break;
      }
    }
  } finally {
    shut(GOING_AWAY);
  }
  return res;
}

export default { connect };

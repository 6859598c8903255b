"""A loopback HTTP server (Python's http.server) that records the trace headers of every request
it gets, for brunt's trace-context tests: one JSON object a line in the file given as argv[1]
(`traceparent`, `b3`, `uber-trace-id`, `x-load-test-id`, whichever came). It sleeps a random
0-20 ms before answering, so that requests differ in duration. Prints its port, then serves."""

import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEADERS = ("traceparent", "b3", "uber-trace-id", "x-load-test-id")
log = open(sys.argv[1], "a", buffering=1)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.rfile.read(int(self.headers["Content-Length"] or 0))
        seen = {h: self.headers[h] for h in HEADERS if self.headers[h] is not None}
        with lock:
            log.write(json.dumps(seen) + "\n")
        time.sleep(random.random() * 0.02)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()

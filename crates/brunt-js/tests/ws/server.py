#!/usr/bin/env python3
"""A WebSocket server for the k6/ws tests, on the `websockets` library (an implementation
independent of brunt's). Serves the same paths on two ports, plain and TLS (a self-signed
certificate made with the openssl command; 0 when that fails), prints both, then serves until
killed. Paths:
/echo echoes every message (and picks the first subprotocol offered), /ping pings the client
then says 'done', /close1011 closes with 1011 'boom', /reject refuses the handshake with 403,
/hdr sends the request's X-Test and User-Agent headers then closes normally."""
import asyncio
import os
import ssl
import subprocess
import sys
import tempfile
from http import HTTPStatus

from websockets.asyncio.server import serve


async def handler(ws):
    path = ws.request.path
    if path == "/echo":
        async for msg in ws:
            await ws.send(msg)
    elif path == "/ping":
        await ws.ping()
        await ws.send("done")
        async for _ in ws:
            pass
    elif path == "/close1011":
        await ws.close(1011, "boom")
    elif path == "/hdr":
        headers = ws.request.headers
        await ws.send(f"{headers.get('X-Test', '')}|{headers.get('User-Agent', '')}")
        await ws.close(1000)


def refuse(connection, request):
    if request.path == "/reject":
        return connection.respond(HTTPStatus.FORBIDDEN, "nope\n")
    return None


def subprotocol(connection, offered):
    return offered[0] if offered else None


def tls_context():
    """A server context with a fresh self-signed certificate for 127.0.0.1, or None."""
    d = tempfile.mkdtemp()
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


async def main():
    opts = dict(process_request=refuse, select_subprotocol=subprotocol)
    async with serve(handler, "127.0.0.1", 0, **opts) as plain:
        tls = tls_context()
        port = plain.sockets[0].getsockname()[1]
        if tls is None:
            print(port, 0, flush=True)
            await asyncio.Future()
        async with serve(handler, "127.0.0.1", 0, ssl=tls, **opts) as secure:
            print(port, secure.sockets[0].getsockname()[1], flush=True)
            await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)

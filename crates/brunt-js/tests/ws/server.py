#!/usr/bin/env python3
"""A WebSocket server for the k6/ws tests, on the `websockets` library (an implementation
independent of brunt's). Serves the same paths on two ports, plain and TLS (a self-signed
certificate made with the openssl command; 0 when that fails), and a third port that breaks the
protocol (`misbehave`); prints the three, then serves until killed. Paths:
/echo echoes every message (and picks the first subprotocol offered), /ping pings the client
then says 'done', /close1011 closes with 1011 'boom', /big sends a 17 MiB message, /reject refuses the handshake with 403,
/hdr sends the request's X-Test, User-Agent and Cookie headers then closes normally; the
handshake of /echo sets the cookie fromws=1."""
import asyncio
import base64
import hashlib
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
    elif path == "/big":
        # One frame over tungstenite's 16 MiB frame limit.
        await ws.send(b"x" * (17 << 20))
        async for _ in ws:
            pass
    elif path == "/hdr":
        headers = ws.request.headers
        await ws.send(f"{headers.get('X-Test', '')}|{headers.get('User-Agent', '')}"
                      f"|{headers.get('Cookie', '')}")
        await ws.close(1000)


def refuse(connection, request):
    if request.path == "/reject":
        return connection.respond(HTTPStatus.FORBIDDEN, "nope\n")
    return None


def set_cookie(connection, request, response):
    if request.path == "/echo":
        response.headers["Set-Cookie"] = "fromws=1"
    return response


def subprotocol(connection, offered):
    return offered[0] if offered else None


async def misbehave(reader, writer):
    """/hangup closes the connection mid-handshake; /garbage completes the handshake, then sends
    a frame with a reserved opcode; /silent completes the handshake, then reads nothing (no pong,
    no answer to a close) for 30 s."""
    head = await reader.readuntil(b"\r\n\r\n")
    path = head.split(b" ", 2)[1]
    if path in (b"/garbage", b"/silent"):
        key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        if path == b"/garbage":
            writer.write(b"\x83\x00")
            await writer.drain()
            await asyncio.sleep(5)
        else:
            await writer.drain()
            await asyncio.sleep(30)
    writer.close()


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
    opts = dict(process_request=refuse, process_response=set_cookie,
                select_subprotocol=subprotocol)
    bad = await asyncio.start_server(misbehave, "127.0.0.1", 0)
    bad_port = bad.sockets[0].getsockname()[1]
    async with serve(handler, "127.0.0.1", 0, **opts) as plain:
        tls = tls_context()
        port = plain.sockets[0].getsockname()[1]
        if tls is None:
            print(port, 0, bad_port, flush=True)
            await asyncio.Future()
        async with serve(handler, "127.0.0.1", 0, ssl=tls, **opts) as secure:
            print(port, secure.sockets[0].getsockname()[1], bad_port, flush=True)
            await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)

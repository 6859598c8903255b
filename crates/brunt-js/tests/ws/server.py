#!/usr/bin/env python3
"""A WebSocket server for the k6/ws tests, on the `websockets` library (an implementation
independent of brunt's). Prints its port, then serves until killed. Paths:
/echo echoes every message (and picks the first subprotocol offered), /ping pings the client
then says 'done', /close1011 closes with 1011 'boom', /reject refuses the handshake with 403,
/hdr sends the request's X-Test and User-Agent headers then closes normally."""
import asyncio
import sys
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


async def main():
    async with serve(handler, "127.0.0.1", 0, process_request=refuse,
                     select_subprotocol=subprotocol) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)

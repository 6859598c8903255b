//! The built-in test target (`brunt target`): a fast httpbin-like HTTP server
//! used as the fixture of brunt's tests, the target of `brunt demo`, and a
//! calibration point (it must never be the bottleneck on loopback).
//!
//! HTTP/1.1 with keep-alive and HTTP/2 cleartext (prior knowledge) on one port.
//! Routes (any method unless noted; errors are JSON `{"error": "..."}`):
//!
//! | route | answer |
//! |---|---|
//! | `/` | `hello world` text |
//! | `/json` | a small JSON document |
//! | `/html` | a small HTML page (headings, a list, links, a form, a table) for `k6/html` scripts |
//! | `/status/{code}` | that status (200-599), empty body; 429 adds `Retry-After: 1` |
//! | `/status/{c1},{c2}`, `/status/{c1}:{w1},{c2}:{w2}` | one of the codes, by weight (default 1 each) |
//! | `/delay/{ms}` | answers after `ms` milliseconds (at most 60000) |
//! | `/cpu/{ms}` | answers after computing for `ms` milliseconds on the serving thread (at most 1000): CPU-bound |
//! | `/bytes/{n}` | `n` pseudo-random bytes (at most 10 MiB) |
//! | `/anything`, `/anything/*` | echo of method, url, path, args, headers, body (`data`, `json`; urlencoded and multipart forms in `form` and `files`) |
//! | `/get`, `/post`, `/put`, `/patch`, `/delete` | the echo, for that method only (httpbin's shapes) |
//! | `/headers`, `/cookies`, `/ip`, `/user-agent` | the request's headers, cookies, address, User-Agent |
//! | `/response-headers?k=v` | answers with header `k: v` (repeatable) |
//! | `/gzip`, `/deflate` | a JSON echo compressed with that Content-Encoding |
//! | `/basic-auth/{user}/{passwd}` | 200 with those Basic credentials, else 401 and a challenge |
//! | `/digest-auth/{qop}/{user}/{passwd}` | 200 with a matching Digest answer (MD5), else 401 with a challenge |
//! | `/bearer` | 200 with an `Authorization: Bearer` token, else 401 |
//! | `/cookies/set?k=v`, `/cookies/delete?k` | sets or expires cookies, then redirects to `/cookies` |
//! | `/redirect/{n}` | `n` redirects ending at `/get` |
//! | `/redirect-to?url=U&status_code=C` | one redirect to `U` (302 by default) |
//! | `/auth/token` | GET or POST: a JSON bearer token |
//! | `POST /api/orders` | stores the JSON body, 201 with `{"id":"ord-N",...}`; the last 100000 (at most 64 MiB) are kept |
//! | `GET /api/orders/{id}` | a stored order, 404 if unknown |
//! | `/stall?ms=N` | every request to the server, this one included, waits until N ms from now |
//! | `/ws/echo` | a WebSocket (RFC 6455 over HTTP/1.1) that echoes text and binary messages |
//! | `/ws/chat?room=NAME` | a WebSocket whose every message goes to every client of the room (`lobby` by default), the sender included |
//! | `/metrics` | the server's request counters and how late the mock LLM's tokens left, in the Prometheus text format |
//! | `content-type: application/grpc` (HTTP/2) | the gRPC services of `grpc/hello.proto` (`hello.HelloService`: unary, server-, client- and bidirectional streaming; `hello.Probe/Echo`), with server reflection and health checking |
//! | `POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models` | the mock LLM (OpenAI's shapes, streamed or not; see `llm.rs` and docs/llm.md) |
//!
//! With `--capacity N` at most N requests start per second and the rest queue (`/metrics`
//! excepted), a known ceiling for `brunt capacity` to find.
//!
//! Anything else is 404. Request bodies over 10 MiB get 413.

mod auth;
mod capacity;
pub mod cli;
mod echo;
mod grpc;
mod llm;
mod metrics;
mod orders;
mod ratelimit;
mod response;
mod routes;
mod server;
mod stall;
mod status;
mod ws;

pub use grpc::PROTO as GRPC_PROTO;
pub use llm::{MockLlm, UsagePlacement};
pub use server::{serve, spawn, spawn_with, Target};

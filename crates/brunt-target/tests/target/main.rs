//! Integration tests of the target over loopback: one test binary, so the
//! client helpers are shared and linked once.

mod client;
mod llm;
mod routes;
mod server;

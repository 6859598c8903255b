//! Built-in httpbin-like test target server.

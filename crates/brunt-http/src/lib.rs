//! HTTP/1.1 and HTTP/2 client with k6 phase timings.

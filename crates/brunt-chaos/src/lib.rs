//! Toxiproxy-compatible fault proxy.

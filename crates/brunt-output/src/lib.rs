//! End-of-test summary and k6 output formats.

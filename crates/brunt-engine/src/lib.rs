//! Run plan, k6 executors, VU scheduling and execution segments.

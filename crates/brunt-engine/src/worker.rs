//! Worker threads (next commit).

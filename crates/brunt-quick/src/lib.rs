//! Scriptless flat-rate attack: one request per iteration.

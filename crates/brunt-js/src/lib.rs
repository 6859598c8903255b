//! QuickJS runtime per VU and the k6 module surface.

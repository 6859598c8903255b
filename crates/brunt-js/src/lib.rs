//! brunt's k6 JavaScript runtime: a QuickJS runtime per VU on its own coroutine stack, k6's module
//! surface, script loading, and the `brunt run` / `brunt inspect` commands.

mod host;
mod loader;
mod modules;
mod program;
mod runtime;
mod vu;

pub use host::ScriptError;
pub use program::{Program, ProgramConfig};

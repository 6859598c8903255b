//! brunt's k6 JavaScript runtime: a QuickJS runtime per VU on its own coroutine stack, k6's module
//! surface, script loading, and the `brunt run` / `brunt inspect` / `brunt archive` commands.
//!
//! - [`Program`] is a script prepared for a run; [`initialize`] runs its init context once,
//!   compiling every module to bytecode and reading its `options` export.
//! - [`JsVuFactory`] gives the engine VUs that run the script.
//! - [`archive`] packs a script with its files and options into k6's archive layout, which
//!   `run` and `inspect` take in place of a script.

mod archive;
mod commonjs;
mod coordinated;
mod factory;
mod host;
mod io;
mod kept_shapes;
mod loader;
mod modules;
mod new;
mod program;
mod remote;
mod require;
mod run;
mod runtime;
mod secrets;
mod shared_rt;
#[cfg(target_os = "linux")]
mod slab;
mod stack;
mod typescript;
mod vu;

pub use archive::{archive, pack, ArchiveArgs};
pub use coordinated::{agent, coordinator, AgentArgs, CoordinatorArgs};
pub use factory::{initialize, JsVuFactory, ScriptVu};
pub use host::ScriptError;
pub use new::{new_script, NewArgs};
pub use program::{Program, ProgramConfig};
pub use run::{
    exit, inspect, load_script, prepare, run, InspectArgs, JoinArgs, LoadedScript, PrepareError,
    Prepared, RunArgs,
};
pub use secrets::SecretSources;

//! `brunt demo`: a real job with nothing to set up. Starts the built-in target on a free loopback
//! port and runs a bundled k6 script against it (two scenarios, groups, checks, thresholds), then
//! prints the summary.

use anyhow::{Context, Result};

/// The bundled script, written to a temporary file for the run.
const SCRIPT: &str = include_str!("demo.js");

pub fn run() -> Result<i32> {
    let target = brunt_target::spawn("127.0.0.1:0".parse()?).context("starting the demo target")?;
    let base = format!("http://{}", target.local_addr());
    let dir = std::env::temp_dir().join(format!("brunt-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let script = dir.join("demo.js");
    std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    println!("brunt demo: running a k6 script against the built-in target at {base} for 5s\n");
    let code = brunt_js::run(brunt_js::RunArgs {
        script: script.clone(),
        env: vec![format!("BASE_URL={base}")],
        include_system_env_vars: Some(false),
        ..Default::default()
    });
    let _ = std::fs::remove_dir_all(&dir);
    code
}

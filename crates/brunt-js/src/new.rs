//! `brunt new`: writes a starting script, k6's `k6 new` minimal template (k6 v1.1).

use anyhow::anyhow;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// k6 v1.1's minimal template, as `k6 new` writes it.
const MINIMAL: &str = r#"import http from 'k6/http';
import { sleep, check } from 'k6';

export const options = {
  vus: 10,
  duration: '30s',
};

export default function() {
  let res = http.get('https://quickpizza.grafana.com');
  check(res, { "status is 200": (res) => res.status === 200 });
  sleep(1);
}
"#;

/// `brunt new`: k6's `new` flags.
#[derive(Args, Debug, Clone)]
pub struct NewArgs {
    /// The script to create.
    #[arg(default_value = "script.js")]
    pub file: PathBuf,
    /// Overwrite the file if it exists.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The template: `minimal` (k6's protocol and browser templates are not bundled).
    #[arg(long, default_value = "minimal", value_name = "NAME")]
    pub template: String,
}

/// Writes the template; an existing file is kept unless `--force`, as k6 does.
pub fn new_script(args: NewArgs) -> anyhow::Result<i32> {
    if args.template != "minimal" {
        return Err(anyhow!(
            "--template '{}': brunt has only the 'minimal' template",
            args.template
        ));
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true);
    if args.force {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    let shown = args.file.display();
    let mut file = open.open(&args.file).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow!("{shown} already exists. Use the `--force` flag to overwrite it")
        }
        _ => anyhow!("cannot create {shown}: {e}"),
    })?;
    file.write_all(MINIMAL.as_bytes())
        .map_err(|e| anyhow!("cannot write {shown}: {e}"))?;
    println!("New script created: {shown} (minimal template).");
    Ok(0)
}

//! `brunt new`: writes a starting script, k6's `k6 new` minimal template (k6 v1.1), or with
//! `--profile` a script shaped as that load profile (the scenario `brunt run --profile` applies,
//! written out), commented, in k6's conventions so that it runs under k6 too.

use anyhow::anyhow;
use brunt_engine::format_duration;
use brunt_engine::profile::{Profile, Shape};
use clap::Args;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

/// The URL k6's templates request.
const DEFAULT_URL: &str = "https://quickpizza.grafana.com";

/// k6 v1.1's minimal template, as `k6 new` writes it (`URL` is the request's address).
const MINIMAL: &str = r#"import http from 'k6/http';
import { sleep, check } from 'k6';

export const options = {
  vus: 10,
  duration: '30s',
};

export default function() {
  let res = http.get('URL');
  check(res, { "status is 200": (res) => res.status === 200 });
  sleep(1);
}
"#;

/// `brunt new`: k6's `new` flags, and brunt's `--profile`, `--peak` and `--url`.
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
    /// Write a load profile's script instead: smoke, load, stress, soak, spike or breakpoint
    /// (docs/profiles.md).
    #[arg(long, value_name = "NAME", conflicts_with = "template")]
    pub profile: Option<Profile>,
    /// The profile's peak: VUs, or iterations a second for breakpoint (default 100 VUs, 1000
    /// iterations a second).
    #[arg(long, value_name = "N", requires = "profile")]
    pub peak: Option<u64>,
    /// The URL the script requests (default k6's https://quickpizza.grafana.com).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Writes the template; an existing file is kept unless `--force`, as k6 does.
pub fn new_script(args: NewArgs) -> anyhow::Result<i32> {
    if args.template != "minimal" {
        return Err(anyhow!(
            "--template '{}': brunt has only the 'minimal' template",
            args.template
        ));
    }
    let url = args.url.as_deref().unwrap_or(DEFAULT_URL);
    if url.contains(['\'', '\\', '\n']) {
        return Err(anyhow!(
            "--url '{url}': quotes, backslashes and line breaks cannot go into the script's string"
        ));
    }
    let (text, name) = match args.profile {
        Some(profile) => {
            let peak = match profile.needs_peak() {
                true => Some(args.peak.unwrap_or(default_peak(profile))),
                // Smoke refuses a --peak given.
                false => args.peak,
            };
            let shape = profile.shape(peak, None).map_err(|e| anyhow!(e))?;
            (profile_script(&shape, url), format!("{profile} profile"))
        }
        None => (MINIMAL.replace("URL", url), "minimal template".into()),
    };
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
    file.write_all(text.as_bytes())
        .map_err(|e| anyhow!("cannot write {shown}: {e}"))?;
    println!("New script created: {shown} ({name}).");
    Ok(0)
}

/// The peak a profile's script is written with when `--peak` is not given.
fn default_peak(profile: Profile) -> u64 {
    match profile {
        Profile::Breakpoint => 1000,
        _ => 100,
    }
}

/// The script of a profile at its default length: header comment, options with the profile's
/// scenario and thresholds, and a default function requesting `url`.
fn profile_script(shape: &Shape, url: &str) -> String {
    let p = shape.profile;
    let mut s = format!(
        "// A {p} test: {}.\n// Written by `brunt new --profile {p}`; it runs as is under `brunt run` and `k6 run`.\n// `brunt run --profile {p} --peak N --duration D` applies the same shape at another peak or\n// length without editing it (docs/profiles.md){}.\n",
        p.purpose(),
        match p {
            Profile::Soak => ", and checks latency drift and memory growth at the end",
            Profile::Spike => ", and checks that latency returns to the baseline's",
            _ => "",
        }
    );
    s += "import http from 'k6/http';\n";
    s += if p == Profile::Breakpoint {
        "import { check } from 'k6';\n\nexport const options = {\n"
    } else {
        "import { check, sleep } from 'k6';\n\nexport const options = {\n"
    };
    if p == Profile::Smoke {
        let _ = writeln!(
            s,
            "  // One user for {}: does the script work, and does the system answer?\n  vus: 1,\n  duration: '{}',",
            format_duration(shape.length),
            format_duration(shape.length)
        );
    } else {
        s += &scenario(shape);
    }
    s += "  thresholds: {\n";
    if p == Profile::Breakpoint {
        s += "    // abortOnFail stops the run where the system breaks: the rate reached then is the answer.\n";
        s += "    http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true }],\n";
        s += "    http_req_duration: [{ threshold: 'p(95)<500', abortOnFail: true, delayAbortEval: '10s' }],\n";
    } else {
        s += "    // Fewer than 1% of requests may fail.\n    http_req_failed: ['rate<0.01'],\n";
        if p != Profile::Smoke {
            s += "    // 95% of requests must finish within 500 ms.\n    http_req_duration: ['p(95)<500'],\n";
        }
    }
    s += "  },\n};\n\nexport default function () {\n";
    let _ = writeln!(s, "  const res = http.get('{url}');");
    s += "  check(res, { 'status is 200': (r) => r.status === 200 });\n";
    if p == Profile::Breakpoint {
        s += "  // No sleep: the arrival rate, not the VUs, sets the pace.\n";
    } else {
        s += "  // Think time: each VU is one user, who pauses between requests.\n  sleep(1);\n";
    }
    s += "}\n";
    s
}

/// `scenarios: { NAME: {...} }` with one commented line per stage.
fn scenario(shape: &Shape) -> String {
    let sc = shape.scenario(None);
    let mut s = format!("  scenarios: {{\n    {}: {{\n", shape.profile);
    let _ = writeln!(s, "      executor: '{}',", sc.executor.unwrap_or_default());
    let fields = [
        ("startVUs", sc.start_vus),
        ("startRate", sc.start_rate),
        ("preAllocatedVUs", sc.pre_allocated_vus),
        ("maxVUs", sc.max_vus),
    ];
    for (key, value) in fields {
        if let Some(v) = value {
            let _ = writeln!(s, "      {key}: {v},");
        }
    }
    if let Some(unit) = sc.time_unit {
        let _ = writeln!(s, "      timeUnit: '{}',", format_duration(unit));
    }
    s += "      stages: [\n";
    for phase in shape.phases() {
        let _ = writeln!(
            s,
            "        {{ duration: '{}', target: {} }}, // {}",
            format_duration(phase.duration),
            phase.target,
            phase.what
        );
    }
    s += "      ],\n    },\n  },\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_script_writes_the_profiles_scenario_out() {
        let shape = Profile::Spike.shape(Some(500), None).unwrap();
        let script = profile_script(&shape, "http://127.0.0.1:8080/");
        for line in [
            "// A spike test: jumps from a trickle to the peak",
            "    spike: {\n      executor: 'ramping-vus',\n      startVUs: 10,\n      stages: [\n",
            "        { duration: '10s', target: 500 }, // jump to the peak\n",
            "        { duration: '2m0s', target: 10 }, // recovery at the baseline\n",
            "    http_req_duration: ['p(95)<500'],\n",
            "  const res = http.get('http://127.0.0.1:8080/');\n",
            "  sleep(1);\n",
        ] {
            assert!(script.contains(line), "lacks {line:?}:\n{script}");
        }
        let bp = profile_script(&Profile::Breakpoint.shape(Some(1000), None).unwrap(), "u");
        for line in [
            "      executor: 'ramping-arrival-rate',\n      startRate: 0,\n      preAllocatedVUs: 100,\n      maxVUs: 1000,\n      timeUnit: '1s',\n",
            "{ threshold: 'rate<0.01', abortOnFail: true }",
        ] {
            assert!(bp.contains(line), "lacks {line:?}:\n{bp}");
        }
        assert!(!bp.contains("sleep("), "{bp}");
        let smoke = profile_script(&Profile::Smoke.shape(None, None).unwrap(), "u");
        assert!(
            smoke.contains("  vus: 1,\n  duration: '1m0s',\n"),
            "{smoke}"
        );
    }
}

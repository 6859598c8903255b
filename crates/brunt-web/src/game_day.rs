//! The game-day report of `brunt experiment run --report` and `brunt report journal.json`: the
//! experiment's journal drawn on the report page, with the load's seconds on the charts, a band
//! for each fault and rollback, each phase's verdicts and every probe result. The journal is the
//! only input, so the report can be rebuilt from it at any time.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::Value;

use crate::report_data::{Point, ReportData};

/// What the page adds for an experiment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GameDay {
    /// `completed`, `failed`, `aborted` or `interrupted`.
    pub status: String,
    pub deviated: bool,
    /// Faults (method actions) and rollbacks, in seconds of the timeline.
    pub bands: Vec<Band>,
    /// The load's verdicts and figures per fault phase.
    pub phases: Vec<PhaseRow>,
    /// Every probe result: steady-state probes and each sample of a probe with a mode.
    pub probes: Vec<ProbeRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Band {
    pub name: String,
    /// `fault` or `rollback`.
    pub kind: &'static str,
    pub from: f64,
    pub to: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseRow {
    pub phase: String,
    pub seconds: f64,
    pub requests: f64,
    pub rps: f64,
    pub err: f64,
    pub p95: Option<f64>,
    pub thresholds: Vec<(String, bool)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeRow {
    pub name: String,
    /// Seconds on the timeline.
    pub t: f64,
    /// `steady state before`, `steady state after`, or the fault phase of a sample.
    pub phase: String,
    pub ok: bool,
}

/// A lasting fault (an action that returns at once, such as a toxiproxy toxic) shows as a band
/// up to the rollbacks rather than as a sliver.
const INSTANT_SECS: f64 = 0.5;

/// Whether `v` is a Chaos Toolkit journal rather than a results file.
pub fn is_journal(v: &Value) -> bool {
    v.get("chaoslib-version").is_some() && v.get("experiment").is_some()
}

/// The report page's data for a journal; the error names the part of the journal that is wrong.
pub fn from_journal(journal: &Value) -> Result<ReportData, String> {
    let title = journal["experiment"]["title"]
        .as_str()
        .ok_or("experiment.title: missing")?;
    let start = time(&journal["start"]).ok_or("start: not an ISO 8601 time")?;
    let runs = |key: &str| journal[key].as_array().cloned().unwrap_or_default();
    let (method, rollbacks) = (runs("run"), runs("rollbacks"));
    let is_load = |r: &Value| {
        r["activity"]["provider"]["type"] == "brunt"
            && r["activity"]["provider"]["module"] == "load"
    };
    let load = method.iter().find(|r| is_load(r));
    // The timeline starts with the load, else with the experiment.
    let t0 = load.and_then(|r| time(&r["start"])).unwrap_or(start);
    let at = |v: &Value| time(v).map(|t| (t - t0).num_microseconds().unwrap_or(0) as f64 / 1e6);

    let mut data = ReportData::new(format!("game day: {title}"), Vec::new());
    data.started_ms = t0.timestamp_millis().max(0) as u64;
    let mut game = GameDay {
        status: journal["status"].as_str().unwrap_or("unknown").to_string(),
        deviated: journal["deviated"].as_bool().unwrap_or(false),
        ..GameDay::default()
    };
    if let Some(load) = load {
        let output = &load["output"];
        data.points = serde_json::from_value::<Vec<Point>>(output["timeline"].clone())
            .map_err(|e| format!("run[].output.timeline of the load: {e}"))?;
        let arguments = &load["activity"]["provider"]["arguments"];
        if let Some(args) = arguments["quick"].as_array() {
            let line: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
            data.scenarios
                .push(format!("load: brunt quick {}", line.join(" ")));
        } else if let Some(script) = arguments["script"].as_str() {
            data.scenarios.push(format!("load: k6 script {script}"));
        }
        if let Some(phases) = output["phases"].as_object() {
            for (phase, f) in phases {
                let thresholds: Vec<(String, bool)> = f["thresholds"]
                    .as_object()
                    .map(|t| {
                        t.iter()
                            .map(|(k, v)| (k.clone(), v.as_bool().unwrap_or(false)))
                            .collect()
                    })
                    .unwrap_or_default();
                for (source, ok) in &thresholds {
                    data.thresholds.push(brunt_metrics::ThresholdResult::bare(
                        phase.clone(),
                        source.clone(),
                        *ok,
                    ));
                }
                game.phases.push(PhaseRow {
                    phase: phase.clone(),
                    seconds: f["seconds"].as_f64().unwrap_or(0.0),
                    requests: f["requests"].as_f64().unwrap_or(0.0),
                    rps: f["rps"].as_f64().unwrap_or(0.0),
                    err: f["http_req_failed"].as_f64().unwrap_or(0.0),
                    p95: f["http_req_duration_p95"].as_f64(),
                    thresholds,
                });
            }
        }
    }
    let end_of_timeline = data
        .points
        .last()
        .map(|p| p.t)
        .or_else(|| at(&journal["end"]))
        .unwrap_or(0.0);
    let rollbacks_start = rollbacks.first().and_then(|r| at(&r["start"]));
    for r in method
        .iter()
        .filter(|r| r["activity"]["type"] == "action" && !is_load(r))
    {
        let (Some(from), Some(to)) = (at(&r["start"]), at(&r["end"])) else {
            continue;
        };
        let to = if to - from < INSTANT_SECS {
            rollbacks_start.unwrap_or(end_of_timeline).max(to)
        } else {
            to
        };
        game.bands.push(band(r, "fault", from, to));
    }
    for r in &rollbacks {
        if let (Some(from), Some(to)) = (at(&r["start"]), at(&r["end"])) {
            game.bands.push(band(r, "rollback", from, to));
        }
    }
    for (key, label) in [
        ("before", "steady state before"),
        ("after", "steady state after"),
    ] {
        for p in journal["steady_states"][key]["probes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            game.probes.push(ProbeRow {
                name: name(p),
                t: at(&p["start"]).unwrap_or(0.0),
                phase: label.to_string(),
                ok: p["tolerance_met"].as_bool().unwrap_or(false),
            });
        }
    }
    for r in method.iter().filter(|r| r["activity"]["mode"].is_string()) {
        for s in r["output"]["samples"].as_array().into_iter().flatten() {
            game.probes.push(ProbeRow {
                name: name(r),
                t: at(&s["start"]).unwrap_or(0.0),
                phase: s["phase"].as_str().unwrap_or("").to_string(),
                ok: s["tolerance_met"].as_bool().unwrap_or(false),
            });
        }
    }
    data.experiment = Some(game);
    data.summary = None;
    Ok(data)
}

fn name(run: &Value) -> String {
    run["activity"]["name"].as_str().unwrap_or("?").to_string()
}

fn band(run: &Value, kind: &'static str, from: f64, to: f64) -> Band {
    Band {
        name: name(run),
        kind,
        from,
        to,
        ok: run["status"] == "succeeded",
    }
}

fn time(v: &Value) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_script_load_is_named_and_its_monitors_are_charted() {
        let at = "2026-12-05T21:10:00.000000+00:00";
        let journal = json!({"chaoslib-version": "1.44.0", "experiment": {"title": "t"},
            "start": at, "end": at, "status": "completed", "deviated": false, "rollbacks": [],
            "run": [{"activity": {"type": "action", "name": "load", "provider": {
                        "type": "brunt", "module": "load", "func": "script",
                        "arguments": {"script": "orders.js"}}},
                     "start": at, "end": at, "status": "succeeded",
                     "output": {"phases": {}, "timeline": [{"t": 1.0, "rps": 20.0, "err": 0.0,
                        "vus": 2.0, "iters": 20.0, "p50": 1.0, "p95": 2.0, "p99": 3.0,
                        "by_name": {}, "by_scenario": {}, "target_cpu": {"api": 50.0},
                        "target_memory_mb": {"api": 12.0}}]}}]});
        let data = from_journal(&journal).unwrap();
        assert_eq!(data.scenarios, ["load: k6 script orders.js"]);
        assert_eq!(data.points[0].target_cpu["api"], 50.0);
    }
}

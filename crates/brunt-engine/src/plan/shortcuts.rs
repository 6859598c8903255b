//! k6's shortcut options (`vus`, `duration`, `iterations`, `stages`) turned into scenarios,
//! exactly as k6's `DeriveScenariosFromShortcuts` does, conflicts included.

use super::DEFAULT_SCENARIO;
use crate::options::{Options, ScenarioOptions, Stage};
use std::collections::BTreeMap;

/// k6's `DeriveScenariosFromShortcuts`; the flag says the scenarios came from shortcuts.
pub(super) fn derive_scenarios(
    o: &Options,
    warnings: &mut Vec<String>,
) -> Result<(BTreeMap<String, ScenarioOptions>, bool), String> {
    let stages_set = o.stages.as_ref().is_some_and(|s| !s.is_empty());
    // k6 names the first conflicting option, stages before scenarios.
    let exclusive = |a: &str, others: &[(&str, bool)]| match others.iter().find(|(_, set)| *set) {
        Some((b, _)) => Err(format!(
            "{a}: using `{a}` and `{b}` options simultaneously is not allowed"
        )),
        None => Ok(()),
    };
    let scenarios_set = o.scenarios.is_some();
    let one = |cfg: ScenarioOptions| {
        let mut m = BTreeMap::new();
        m.insert(DEFAULT_SCENARIO.to_string(), cfg);
        (m, true)
    };
    if let Some(iterations) = o.iterations {
        exclusive(
            "iterations",
            &[("stages", stages_set), ("scenarios", scenarios_set)],
        )?;
        return Ok(one(ScenarioOptions {
            executor: Some("shared-iterations".into()),
            vus: o.vus,
            iterations: Some(iterations),
            max_duration: o.duration,
            ..Default::default()
        }));
    }
    if let Some(duration) = o.duration {
        exclusive(
            "duration",
            &[("stages", stages_set), ("scenarios", scenarios_set)],
        )?;
        if duration.is_zero() {
            return Err(
                "duration: `duration` option should be more than 0, for infinite \
                        duration use the externally-controlled executor"
                    .into(),
            );
        }
        return Ok(one(ScenarioOptions {
            executor: Some("constant-vus".into()),
            vus: o.vus,
            duration: Some(duration),
            ..Default::default()
        }));
    }
    if stages_set {
        exclusive("stages", &[("scenarios", scenarios_set)])?;
        // k6 keeps only the stages that have a duration.
        let stages: Vec<Stage> = o
            .stages
            .iter()
            .flatten()
            .filter(|s| s.duration.is_some())
            .cloned()
            .collect();
        return Ok(one(ScenarioOptions {
            executor: Some("ramping-vus".into()),
            start_vus: o.vus,
            stages: Some(stages),
            ..Default::default()
        }));
    }
    if let Some(vus) = o.vus {
        // k6: `vus` alone overrides any scenarios and runs one shared iteration per VU.
        if o.scenarios.is_some() {
            warnings.push(format!("`vus={vus}` overrides scenarios configuration"));
        }
        return Ok(one(ScenarioOptions {
            executor: Some("shared-iterations".into()),
            vus: Some(vus),
            iterations: Some(vus),
            ..Default::default()
        }));
    }
    if let Some(s) = o.scenarios.as_ref().filter(|s| !s.is_empty()) {
        return Ok((s.clone(), false));
    }
    let fallback = "running the script with 1 iteration in 1 VU";
    if o.stages.is_some() {
        warnings.push(format!(
            "`stages` was explicitly set to an empty value, {fallback}"
        ));
    }
    if o.scenarios.is_some() {
        warnings.push(format!(
            "`scenarios` was explicitly set to an empty value, {fallback}"
        ));
    }
    Ok(one(ScenarioOptions {
        executor: Some("per-vu-iterations".into()),
        ..Default::default()
    }))
}

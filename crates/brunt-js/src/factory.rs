//! The engine's view of a script: a [`VuFactory`] whose VUs run the script's exec functions,
//! `setup()` and `teardown()`, with setup's data shared (as JSON) by every VU of the run.

use crate::host::{Host, ScriptError};
use crate::io::HttpIo;
use crate::program::Program;
use crate::vu::{Call, CallOutcome, JsVu};
use brunt_engine::{IterationCtx, IterationOutcome, ScenarioInfo, Vu, VuError, VuFactory, VuInit};
use brunt_http::{Client, ClientConfig, LocalIps};
use brunt_metrics::builtin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Creates script VUs for the engine.
pub struct JsVuFactory {
    program: Arc<Program>,
    http: ClientConfig,
    /// `--local-ips`: each VU's source address.
    local_ips: Option<LocalIps>,
    /// `setupTimeout` and `teardownTimeout`.
    timeouts: [Duration; 2],
    setup_data: Arc<Mutex<Option<Arc<str>>>>,
}

impl JsVuFactory {
    /// `timeouts` are k6's `setupTimeout` and `teardownTimeout`.
    pub fn new(program: Arc<Program>, http: ClientConfig, timeouts: [Duration; 2]) -> Self {
        JsVuFactory {
            program,
            http,
            local_ips: None,
            timeouts,
            setup_data: Arc::default(),
        }
    }

    /// VUs connect from the pool's addresses, round-robin by VU id (k6's `--local-ips`).
    pub fn with_local_ips(mut self, pool: Option<LocalIps>) -> Self {
        self.local_ips = pool;
        self
    }

    /// What `setup()` returned, as JSON (None when it returned nothing or did not run).
    pub fn setup_data(&self) -> Option<Arc<str>> {
        self.setup_data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the data every VU receives (k6's `PUT /v1/setup`); None clears it.
    pub fn set_setup_data(&self, json: Option<String>) {
        *self.setup_data.lock().unwrap_or_else(|e| e.into_inner()) = json.map(Arc::from);
    }
}

/// How a setup error caused by `setupTimeout` starts (k6 exits 100 for it).
pub(crate) const TIMED_OUT: &str = "setup() timed out";

/// One VU of a script run.
pub struct ScriptVu {
    js: JsVu<HttpIo>,
    host: Rc<Host>,
    program: Arc<Program>,
    setup_data: Arc<Mutex<Option<Arc<str>>>>,
    timeouts: [Duration; 2],
    /// The scenario of the previous iteration, to apply a new scenario's env once.
    scenario: Option<Arc<ScenarioInfo>>,
    /// That scenario's exec function name, made once per scenario rather than per iteration.
    exec: Rc<str>,
}

impl VuFactory for JsVuFactory {
    type Vu = ScriptVu;

    fn create(&self, init: VuInit) -> Result<ScriptVu, VuError> {
        let host = Rc::new(Host::new(
            self.program.shared.clone(),
            init.metrics,
            init.id_in_test,
            init.id_in_instance,
        ));
        let mut http = self.http.clone();
        http.local_ip = self
            .local_ips
            .as_ref()
            .map(|p| p.for_vu(init.id_in_instance));
        let client = Client::new(http).map_err(|e| VuError(e.message))?;
        let js = JsVu::new(
            self.program.clone(),
            host.clone(),
            HttpIo::new(client, &host),
        )
        .map_err(|e| VuError(e.to_string()))?;
        Ok(ScriptVu {
            js,
            host,
            program: self.program.clone(),
            setup_data: self.setup_data.clone(),
            timeouts: self.timeouts,
            scenario: None,
            exec: Rc::from(""),
        })
    }
}

/// Logs an iteration's uncaught exception as k6 does (with its stack).
pub(crate) fn log_exception(e: &ScriptError) {
    brunt_engine::log::log(
        brunt_engine::log::Level::Error,
        &e.to_string(),
        &[("source", "stacktrace")],
    );
}

impl ScriptVu {
    fn data(&self) -> Option<Arc<str>> {
        self.setup_data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Vu for ScriptVu {
    async fn iteration(&mut self, ctx: &IterationCtx) -> IterationOutcome {
        let new_scenario = !self
            .scenario
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &ctx.scenario));
        let env = if new_scenario {
            self.scenario = Some(ctx.scenario.clone());
            self.exec = Rc::from(ctx.scenario.exec.as_str());
            self.host.tags_changed();
            Some(
                ctx.scenario
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        } else {
            None
        };
        {
            let mut it = self.host.iter.borrow_mut();
            if new_scenario {
                it.scenario = ctx.scenario.name.clone();
                it.executor = ctx.scenario.executor.to_string();
                it.tags = Some(ctx.scenario.tags.clone());
                let since = ctx.scenario_start.elapsed();
                it.scenario_start = SystemTime::now().checked_sub(since);
                it.test_start = SystemTime::now().checked_sub(ctx.test_start.elapsed());
            }
            it.iter = ctx.vu_iteration;
            it.iter_in_scenario = ctx.vu_iteration_in_scenario;
            it.iter_in_instance = ctx.iteration_in_scenario;
            it.iter_in_test = ctx.iteration_in_test();
            it.scheduled_lag = ctx.scheduled_lag;
            it.progress = Some(ctx.scenario_progress());
        }
        let call = Call::Iteration {
            exec: self.exec.clone(),
            data: self.data(),
            env,
            iter: ctx.vu_iteration,
        };
        let outcome = self.js.call(call).await;
        if self
            .program
            .shared
            .no_vu_connection_reuse
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.js.io().close_connections();
        }
        // k6 reports the iteration's network bytes when it ends, so these metrics exist even
        // for iterations without requests (the bytes themselves come with each response).
        self.host.emit(builtin::DATA_SENT, 0.0, &[]);
        self.host.emit(builtin::DATA_RECEIVED, 0.0, &[]);
        if let Some(reason) = self.program.abort_reason() {
            return IterationOutcome::AbortTest(reason);
        }
        match outcome {
            CallOutcome::Done(_) | CallOutcome::Cancelled => IterationOutcome::Completed,
            CallOutcome::Exception(e) => {
                log_exception(&e);
                IterationOutcome::Failed
            }
        }
    }

    async fn setup(&mut self) -> Result<(), VuError> {
        if !self.program.has_export("setup") {
            return Ok(());
        }
        let limit = self.timeouts[0];
        let Ok(outcome) = tokio::time::timeout(limit, self.js.call(Call::Setup)).await else {
            return Err(VuError(format!(
                "{TIMED_OUT} after {}",
                brunt_engine::format_duration(limit)
            )));
        };
        match outcome {
            CallOutcome::Done(json) => {
                *self.setup_data.lock().unwrap_or_else(|e| e.into_inner()) =
                    json.map(|j| Arc::from(j.as_str()));
                Ok(())
            }
            CallOutcome::Exception(e) => Err(VuError(e.to_string())),
            CallOutcome::Cancelled => Err(VuError("setup() was interrupted".into())),
        }
    }

    async fn teardown(&mut self) -> Result<(), VuError> {
        if !self.program.has_export("teardown") {
            return Ok(());
        }
        let limit = self.timeouts[1];
        let call = self.js.call(Call::Teardown(self.data()));
        let Ok(outcome) = tokio::time::timeout(limit, call).await else {
            return Err(VuError(format!(
                "teardown() timed out after {}",
                brunt_engine::format_duration(limit)
            )));
        };
        match outcome {
            CallOutcome::Done(_) => Ok(()),
            CallOutcome::Exception(e) => Err(VuError(e.to_string())),
            CallOutcome::Cancelled => Err(VuError("teardown() was interrupted".into())),
        }
    }
}

/// Runs `handleSummary(data)` on a fresh VU of its own; returns the JSON of the map it returned.
pub(crate) fn handle_summary(
    program: &Arc<Program>,
    metrics: brunt_engine::WorkerMetrics,
    data_json: String,
    http: ClientConfig,
) -> Result<Option<String>, ScriptError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ScriptError::plain(format!("cannot start a runtime: {e}")))?;
    let host = Rc::new(Host::new(program.shared.clone(), metrics, 0, 0));
    let client = Client::new(http).map_err(|e| ScriptError::plain(e.message))?;
    let io = HttpIo::new(client, &host);
    let mut js = JsVu::new(program.clone(), host, io)?;
    let out = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(120),
            js.call(Call::HandleSummary(data_json)),
        )
        .await
    });
    match out {
        Ok(CallOutcome::Done(json)) => Ok(json),
        Ok(CallOutcome::Exception(e)) => Err(e),
        Ok(CallOutcome::Cancelled) | Err(_) => {
            Err(ScriptError::plain("handleSummary() did not finish".into()))
        }
    }
}

/// Runs the init context once (k6 does the same to read `options`): compiles every module to
/// bytecode for the VUs that follow and records the script's exports and `options`.
pub fn initialize(program: &Arc<Program>) -> Result<(), ScriptError> {
    let metrics = Rc::new(std::cell::RefCell::new(brunt_metrics::Aggregator::new(
        program.shared.registry.clone(),
        false,
    )));
    let host = Rc::new(Host::new(program.shared.clone(), metrics, 0, 0));
    let client = Client::new(ClientConfig::default()).map_err(|e| ScriptError::plain(e.message))?;
    let io = HttpIo::new(client, &host);
    JsVu::new(program.clone(), host, io).map(drop)
}

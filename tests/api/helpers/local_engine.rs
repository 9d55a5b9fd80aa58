//! The engine in this process as the simulator's local engine (what
//! `boxoffice simulate` supplies with no target), for the simulations run
//! as tests.

use boxoffice::in_process::InProcess;
use boxoffice_sim::target::{LocalEngine, LocalEngines, SIM_ADMIN_TOKEN};
use std::sync::Arc;

struct Engine(InProcess);

impl LocalEngine for Engine {
    fn base_url(&self) -> String {
        self.0.base.clone()
    }

    fn crash_and_restart(&mut self) -> std::io::Result<()> {
        self.0.crash_and_restart()
    }

    fn stop_and_check_store(&mut self) -> std::io::Result<Vec<String>> {
        self.0.stop_and_check_store()
    }
}

/// Starts an engine on a temporary sled directory for each run.
pub fn local_engines() -> LocalEngines {
    LocalEngines(Arc::new(|hold_ttl_secs| {
        let engine = InProcess::start_with(hold_ttl_secs, |settings| {
            settings.admin_token = Some(SIM_ADMIN_TOKEN.into());
        })?;
        Ok(Box::new(Engine(engine)) as Box<dyn LocalEngine>)
    }))
}

//! The QuickJS engine: one long-lived runtime per worker for `search` (the spec is built in it
//! once) and a fresh runtime per `execute` call.

mod console;
mod convert;
mod execute;
mod lookup;
mod meter;
mod run;
mod scripts;
mod search;
mod watchdog;

use std::sync::Arc;

use codemode_spec::{Node, Spec};
use rquickjs::context::intrinsic::{
    Date, Eval, Json, MapSet, Promise, Proxy, RegExp, RegExpCompiler, TypedArrays,
};
use tokio::runtime::Handle;

use crate::engine::{Call, Engine, Wake};
use crate::error::SandboxError;
use crate::host::Host;
use crate::outcome::Outcome;
use execute::Outside;
use search::SearchRuntime;

/// The standard library of the realms agent code runs in. Left out: WeakRef and
/// FinalizationRegistry (whose callbacks could run after the call), `performance` and
/// DOMException.
type Intrinsics = (
    Date,
    Eval,
    RegExpCompiler,
    RegExp,
    Json,
    Proxy,
    MapSet,
    TypedArrays,
    Promise,
);

/// QuickJS, as one worker thread's engine.
pub(crate) struct QuickJs {
    view: Arc<Node>,
    spec: Option<Arc<Spec>>,
    api_global: String,
    others: Arc<[(String, Arc<Spec>)]>,
    outside: Outside,
    search: SearchRuntime,
}

impl QuickJs {
    /// Builds the worker's search runtime from `view`, with `spec.find` and `spec.op` when
    /// the view is `spec`'s; `handle` runs host futures, and `execute` code reaches the API
    /// through the global `api_global`, and each of `others` through its name.
    pub(crate) fn new(
        view: Arc<Node>,
        spec: Option<Arc<Spec>>,
        handle: Handle,
        api_global: &str,
        others: Arc<[(String, Arc<Spec>)]>,
    ) -> Result<QuickJs, SandboxError> {
        let globals: Vec<String> = std::iter::once(api_global.to_owned())
            .chain(others.iter().map(|(name, _)| name.clone()))
            .collect();
        let outside = Outside::new(handle, &globals)?;
        let search = SearchRuntime::new(&view, spec.as_ref(), api_global, &others)?;
        Ok(QuickJs {
            view,
            spec,
            api_global: api_global.to_owned(),
            others,
            outside,
            search,
        })
    }
}

impl Engine for QuickJs {
    type Execution = execute::Execution;

    fn search(&mut self, call: &Call<'_>) -> Result<Outcome, SandboxError> {
        self.search.search(call)
    }

    fn execute(
        &mut self,
        call: &Call<'_>,
        host: Arc<dyn Host>,
        wake: Wake,
    ) -> Result<execute::Execution, SandboxError> {
        execute::Execution::start(call, host, &self.outside, wake)
    }

    fn recover(&mut self) -> Result<(), SandboxError> {
        if !self.search.recover() {
            self.search = SearchRuntime::new(
                &self.view,
                self.spec.as_ref(),
                &self.api_global,
                &self.others,
            )?;
        }
        Ok(())
    }
}

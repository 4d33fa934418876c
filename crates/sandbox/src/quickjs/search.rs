//! The runtime `search` calls run in: the spec is built once, in a base realm that is then
//! locked, and every call gets a fresh realm of the same runtime with that spec as `spec`.
//!
//! Sharing one object graph across realms is what keeps a call cheap (no re-parse, no copy),
//! and QuickJS allows it within a runtime. It is safe because the base realm cannot change:
//! the spec is frozen as it is built, and lockdown.js freezes every object reachable from the
//! base realm (its global object, intrinsics and hidden prototypes), removes its ways to
//! compile code, and turns the accessors that set realm-wide error state into constants. A call can still reach the base
//! realm through the spec's prototypes, but can neither change what it finds nor run code
//! there; everything else it creates dies with its own realm. Once locked, the base realm is
//! sealed out of the cycle collector's walk (`JS_SealGCObjects`, vendored QuickJS), so a
//! collection visits only what calls made.

use std::rc::Rc;
use std::sync::Arc;

use codemode_spec::{Node, Spec};
use rquickjs::{CatchResultExt, Context, Function, Persistent, Runtime, Value};

use crate::engine::Call;
use crate::error::SandboxError;
use crate::limits::Limits;
use crate::outcome::Outcome;
use crate::quickjs::console::{self, LogSink};
use crate::quickjs::meter::Meter;
use crate::quickjs::run::Bounds;
use crate::quickjs::watchdog::{Watch, Watchdog};
use crate::quickjs::{Intrinsics, convert, lookup, run, scripts};

/// A runtime holding the locked spec realm, reused by every `search` call of one worker.
pub(crate) struct SearchRuntime {
    // Fields drop in order: the handles into the runtime must go before it.
    shared: Shared,
    /// The fresh realm the next call runs in, made once the last call has replied, so making
    /// it is not part of any call's latency.
    next_realm: Option<Context>,
    /// The realm the last call ran in, freed once that call has replied.
    last_realm: Option<Context>,
    watchdog: Watchdog,
    meter: Rc<Meter>,
    built_bytes: usize,
    collected_bytes: usize,
    damaged: bool,
    runtime: Runtime,
}

/// Garbage allowed to pile up between collections, which run after a call has replied. A
/// collection walks only what was allocated since the base realm was sealed (the spec is out
/// of its walk), so it costs about what it frees and can run often. A call allocating more
/// than this, or than half its memory limit, is collected while it runs, by QuickJS itself,
/// so cyclic garbage never takes a call to its limit.
const GARBAGE_BYTES: usize = 1 << 20;

/// Memory a runtime may hold beyond its size when built before it is rebuilt as leaking.
const LEAK_BYTES: usize = 32 << 20;

/// Handles to the base realm's values, used from each fresh realm.
struct Shared {
    spec: Persistent<Value<'static>>,
    specs: Persistent<Value<'static>>,
    render: Persistent<Function<'static>>,
    create_console: Persistent<Function<'static>>,
}

impl SearchRuntime {
    /// Builds the runtime: converts `view` once, adds `find` and `op` when it is `spec`'s (whose
    /// API `execute` reaches as `api`), does the same for each of `others` (the further APIs,
    /// read as `specs[name]`), loads the helpers and locks the base realm.
    pub(crate) fn new(
        view: &Arc<Node>,
        spec: Option<&Arc<Spec>>,
        api: &str,
        others: &[(String, Arc<Spec>)],
    ) -> Result<SearchRuntime, SandboxError> {
        let setup = |error: rquickjs::Error| {
            SandboxError::Unavailable(format!("could not build the spec realm: {error}"))
        };
        let (meter, allocator) = Meter::new();
        let runtime = Runtime::new_with_alloc(allocator).map_err(setup)?;
        let base = Context::custom::<Intrinsics>(&runtime).map_err(setup)?;
        let shared = base.with(|ctx| -> Result<Shared, SandboxError> {
            let caught = |error: rquickjs::CaughtError<'_>| {
                SandboxError::Unavailable(format!("could not build the spec realm: {error}"))
            };
            let render: Function = scripts::RENDER.load(&ctx).catch(&ctx).map_err(caught)?;
            let create_console: Function =
                scripts::CONSOLE.load(&ctx).catch(&ctx).map_err(caught)?;
            let lockdown: Function = scripts::LOCKDOWN.load(&ctx).catch(&ctx).map_err(caught)?;
            let apis: lookup::Apis = spec
                .map(|spec| (api.to_owned(), spec.clone()))
                .into_iter()
                .chain(others.iter().cloned())
                .collect();
            let extra = match spec {
                Some(_) => lookup::helpers(&ctx, &apis, 0).map_err(setup)?,
                None => Vec::new(),
            };
            let spec = convert::to_js(&ctx, view, extra).map_err(setup)?;
            let specs = rquickjs::Object::new(ctx.clone()).map_err(setup)?;
            specs.set(api, spec.clone()).map_err(setup)?;
            let first = apis.len() - others.len();
            for (index, (name, other)) in others.iter().enumerate() {
                let extra = lookup::helpers(&ctx, &apis, first + index).map_err(setup)?;
                let view = convert::to_js(&ctx, other.view(), extra).map_err(setup)?;
                specs.set(name.as_str(), view).map_err(setup)?;
            }
            let freeze: Function = ctx
                .globals()
                .get::<_, rquickjs::Object>("Object")
                .and_then(|object| object.get("freeze"))
                .map_err(setup)?;
            freeze.call::<_, ()>((specs.clone(),)).map_err(setup)?;
            lockdown.call::<_, ()>(()).catch(&ctx).map_err(caught)?;
            Ok(Shared {
                spec: Persistent::save(&ctx, spec),
                specs: Persistent::save(&ctx, specs.into_value()),
                render: Persistent::save(&ctx, render),
                create_console: Persistent::save(&ctx, create_console),
            })
        })?;
        runtime.run_gc();
        // SAFETY: `base` is a live context of `runtime`, and no other thread uses the runtime.
        // Sealing only takes objects out of the collector's walk (see the function's comment in
        // vendor/rquickjs-sys/quickjs/quickjs.c); it frees nothing.
        unsafe {
            let raw = rquickjs::qjs::JS_GetRuntime(base.as_raw().as_ptr());
            rquickjs::qjs::JS_SealGCObjects(raw);
        }
        let watchdog = Watchdog::default();
        watchdog.install(&runtime);
        let next_realm = Some(Context::custom::<Intrinsics>(&runtime).map_err(setup)?);
        Ok(SearchRuntime {
            shared,
            next_realm,
            last_realm: None,
            watchdog,
            built_bytes: meter.held(),
            collected_bytes: meter.held(),
            meter,
            damaged: false,
            runtime,
        })
    }

    /// Runs one `search` call in a fresh realm.
    pub(crate) fn search(&mut self, call: &Call<'_>) -> Result<Outcome, SandboxError> {
        let limits = call.limits;
        let watch = Watch::start(limits.timeout, call.accepted, call.cancel.clone(), None);
        self.runtime.set_max_stack_size(limits.stack_bytes);
        let collect_at = self
            .collected_bytes
            .saturating_add(GARBAGE_BYTES)
            .min(self.meter.held().saturating_add(limits.memory_bytes / 2));
        self.runtime.set_gc_threshold(collect_at);
        self.meter.allow(limits.memory_bytes);
        self.watchdog.watch(watch.clone());
        let outcome = self
            .run(call.code, limits, &watch)
            .map_err(|error| run::point_at(error, call.code));
        self.watchdog.clear();
        self.meter.lift();
        match outcome {
            Ok((outcome, drained)) => {
                self.damaged |= !drained;
                Ok(outcome)
            }
            Err(error) => {
                self.damaged |= matches!(error, SandboxError::Unavailable(_));
                Err(error)
            }
        }
    }

    /// Runs the code in a fresh realm; also says whether the work it queued all finished.
    fn run(
        &mut self,
        code: &str,
        limits: &Limits,
        watch: &Watch,
    ) -> Result<(Outcome, bool), SandboxError> {
        let context = match self.next_realm.take() {
            Some(context) => context,
            None => Context::custom::<Intrinsics>(&self.runtime)
                .map_err(|error| run::engine_failure(&error, limits))?,
        };
        let ran = self.run_in(&context, code, limits, watch);
        self.last_realm = Some(context);
        ran
    }

    /// Runs the code in `context`, a fresh realm, as [`SearchRuntime::run`] does.
    fn run_in(
        &self,
        context: &Context,
        code: &str,
        limits: &Limits,
        watch: &Watch,
    ) -> Result<(Outcome, bool), SandboxError> {
        context.with(|ctx| {
            let spec = self
                .shared
                .spec
                .clone()
                .restore(&ctx)
                .map_err(|error| run::engine_failure(&error, limits))?;
            let render = self
                .shared
                .render
                .clone()
                .restore(&ctx)
                .map_err(|error| run::engine_failure(&error, limits))?;
            let create_console = self
                .shared
                .create_console
                .clone()
                .restore(&ctx)
                .map_err(|error| run::engine_failure(&error, limits))?;
            let specs = self
                .shared
                .specs
                .clone()
                .restore(&ctx)
                .map_err(|error| run::engine_failure(&error, limits))?;
            let sink = LogSink::new(limits, None);
            ctx.globals()
                .set("spec", spec)
                .and_then(|()| ctx.globals().set("specs", specs))
                .and_then(|()| {
                    console::install(&ctx, &create_console, &render, sink.clone(), limits)
                })
                .map_err(|error| run::engine_failure(&error, limits))?;
            let bounds = Bounds {
                limits,
                watch,
                meter: &self.meter,
                render: &render,
            };
            let started = run::start(&ctx, code, &bounds)?;
            let value = run::settle(&ctx, &started, &bounds, || Ok(false))?
                .ok_or(SandboxError::NeverSettled)?;
            let undefined = value.is_undefined();
            let (result, truncation) = run::render(&ctx, value, &bounds)?;
            let drained = run::drain(&ctx, watch);
            Ok((
                Outcome {
                    result,
                    undefined,
                    truncation,
                    logs: sink.take(),
                },
                drained,
            ))
        })
    }

    /// Frees the last call's realm, reclaims garbage once enough has piled up (or the last
    /// call ran out of memory) and makes the next call's realm; false if the runtime must be
    /// rebuilt: a call left work queued, or memory does not come back.
    pub(crate) fn recover(&mut self) -> bool {
        self.last_realm = None;
        if self.damaged {
            return false;
        }
        if self.meter.refused()
            || self.meter.held() > self.collected_bytes.saturating_add(GARBAGE_BYTES)
        {
            self.runtime.run_gc();
            self.collected_bytes = self.meter.held();
        }
        let healthy = self.collected_bytes <= self.built_bytes.saturating_add(LEAK_BYTES);
        if healthy && self.next_realm.is_none() {
            // On failure the next call makes its realm itself, and reports what went wrong.
            self.next_realm = Context::custom::<Intrinsics>(&self.runtime).ok();
        }
        healthy
    }
}

//! The runtime `execute` calls run in: a fresh runtime and realm per call, whose only ways
//! out are the API's `request` (`cloudflare.request` by default), `accountId` and
//! `console`, each backed by the host, which also tells the time `Date` reads.
//!
//! Host futures run on the tokio runtime and never on the worker: a call whose code waits on
//! them is parked, holding its runtime but not its worker, and is resumed when one of them
//! finishes (or at its deadline). So several requests can be in flight at once
//! (`Promise.all`), and many calls can wait on one worker. `accountId` is a synchronous
//! getter, so when the code names it the account is looked up before the code starts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use rquickjs::object::Accessor;
use rquickjs::{
    CatchResultExt, Context, Ctx, Exception, Function, Object, Persistent, Promise, Runtime, Value,
};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::cancel::Listening;
use crate::determinism::Determinism;
use crate::engine::{self, Call, Wake};
use crate::error::SandboxError;
use crate::host::{Delivery, Host, Rejection};
use crate::limits::Limits;
use crate::outcome::Outcome;
use crate::quickjs::console::{self, LogSink};
use crate::quickjs::meter::Meter;
use crate::quickjs::response;
use crate::quickjs::run::{Bounds, Started};
use crate::quickjs::watchdog::{Watch, Watchdog};
use crate::quickjs::{Intrinsics, run, scripts};

/// The global agent code reads the account id from.
const ACCOUNT_GLOBAL: &str = "accountId";

/// What every `execute` call of a worker shares: where host futures run, and the names of the
/// APIs' globals.
pub(crate) struct Outside {
    /// Runs host futures.
    pub handle: Handle,
    /// The globals holding each API's `request`, the first API's first.
    pub api_globals: Arc<[Arc<str>]>,
}

impl Outside {
    /// Checks each of `api_globals` can name a global of the realm: an identifier no other
    /// global (nor another API) has.
    pub(crate) fn new(handle: Handle, api_globals: &[String]) -> Result<Outside, SandboxError> {
        for (index, api_global) in api_globals.iter().enumerate() {
            if api_globals[..index].contains(api_global) {
                return Err(SandboxError::Unavailable(format!(
                    "the API global `{api_global}` is named twice: give each API its own name"
                )));
            }
            check_global(api_global)?;
        }
        Ok(Outside {
            handle,
            api_globals: api_globals
                .iter()
                .map(|name| Arc::from(name.as_str()))
                .collect(),
        })
    }
}

/// Checks `api_global` can name a global of the realm: an identifier no other global has.
fn check_global(api_global: &str) -> Result<(), SandboxError> {
    let identifier = api_global
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == '$')
        && api_global
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    let refused = |reason: &str| {
        Err(SandboxError::Unavailable(format!(
            "the API global `{api_global}` {reason}: choose another name"
        )))
    };
    if !identifier {
        return refused("is not a plain JavaScript identifier");
    }
    let runtime = Runtime::new().map_err(setup)?;
    let context = Context::custom::<Intrinsics>(&runtime).map_err(setup)?;
    let taken = context.with(|ctx| ctx.globals().contains_key(api_global));
    if taken.map_err(setup)? || api_global == "console" || api_global == ACCOUNT_GLOBAL {
        return refused("is already a global of the sandbox");
    }
    Ok(())
}

/// The error for a runtime that could not be set up.
fn setup(error: rquickjs::Error) -> SandboxError {
    SandboxError::Unavailable(format!("could not start a JavaScript runtime: {error}"))
}

/// One `execute` call, from its fresh runtime to its outcome.
pub(crate) struct Execution {
    // Fields drop in order: the handles into the runtime must go before it.
    running: Option<Running>,
    helpers: Helpers,
    bridge: Rc<Bridge>,
    sink: Rc<LogSink>,
    watch: Rc<Watch>,
    meter: Rc<Meter>,
    source: String,
    limits: Limits,
    _wake_on_cancel: Listening,
    context: Context,
    runtime: Runtime,
}

/// The started code's promise, kept between resumptions.
struct Running {
    promise: Persistent<Promise<'static>>,
    shift: usize,
}

impl Execution {
    /// Builds the call's runtime and realm; the code starts on the first `resume`, once the
    /// account id is known if the code names `accountId`.
    pub(crate) fn start(
        call: &Call<'_>,
        host: Arc<dyn Host>,
        outside: &Outside,
        wake: Wake,
    ) -> Result<Execution, SandboxError> {
        let limits = call.limits;
        let (meter, allocator) = Meter::new();
        let runtime = Runtime::new_with_alloc(allocator).map_err(setup)?;
        runtime.set_max_stack_size(limits.stack_bytes);
        let watch = Watch::start(
            limits.timeout,
            call.accepted,
            call.cancel.clone(),
            Some(host.clone()),
        );
        let watchdog = Watchdog::default();
        watchdog.install(&runtime);
        watchdog.watch(watch.clone());
        let waker = wake.clone();
        let wake_on_cancel = call.cancel.on_cancel(move || waker.wake());
        let determinism = host.determinism();
        let bridge = Rc::new(Bridge::new(host.clone(), outside, wake));
        let sink = LogSink::new(limits, Some(host));
        let context = Context::custom::<Intrinsics>(&runtime).map_err(setup)?;
        let helpers = context
            .with(|ctx| install(&ctx, &bridge, &sink, limits, determinism))
            .map_err(setup)?;
        if call.code.contains(ACCOUNT_GLOBAL) {
            bridge.look_up_account();
        }
        meter.allow(limits.memory_bytes);
        Ok(Execution {
            running: None,
            helpers,
            bridge,
            sink,
            watch,
            meter,
            source: call.code.to_owned(),
            limits: limits.clone(),
            _wake_on_cancel: wake_on_cancel,
            context,
            runtime,
        })
    }

    /// Delivers what the host finished, starts the code once it can, and runs it as far as
    /// it goes; the outcome once there is one.
    fn advance(&mut self) -> Result<Option<Outcome>, SandboxError> {
        self.runtime.set_max_stack_size(self.limits.stack_bytes);
        let mut running = self.running.take();
        let advanced = self.context.with(|ctx| self.advance_in(&ctx, &mut running));
        self.running = running;
        advanced
    }

    fn advance_in<'js>(
        &self,
        ctx: &Ctx<'js>,
        running: &mut Option<Running>,
    ) -> Result<Option<Outcome>, SandboxError> {
        let failed = |error: rquickjs::Error| run::engine_failure(&error, &self.limits);
        let render = self.helpers.render.clone().restore(ctx).map_err(failed)?;
        let settle = self.helpers.settle.clone().restore(ctx).map_err(failed)?;
        let bounds = Bounds {
            limits: &self.limits,
            watch: &self.watch,
            meter: &self.meter,
            render: &render,
        };
        if let Some(stop) = self.watch.stop() {
            return Err(self.watch.error(stop));
        }
        let bridge = &self.bridge;
        let started = match running {
            Some(running) => Started {
                promise: running.promise.clone().restore(ctx).map_err(failed)?,
                shift: running.shift,
            },
            None => {
                if bridge.account_pending() {
                    bridge.deliver(ctx, &settle, &bounds)?;
                    if bridge.account_pending() {
                        return Ok(None);
                    }
                }
                let started = run::start(ctx, &self.source, &bounds)?;
                *running = Some(Running {
                    promise: Persistent::save(ctx, started.promise.clone()),
                    shift: started.shift,
                });
                started
            }
        };
        let settled = run::settle(ctx, &started, &bounds, || {
            bridge.deliver(ctx, &settle, &bounds)
        })?;
        match settled {
            Some(value) => {
                let undefined = value.is_undefined();
                let (result, truncation) = run::render(ctx, value, &bounds)?;
                Ok(Some(Outcome {
                    result,
                    undefined,
                    truncation,
                    logs: self.sink.take(),
                }))
            }
            None if bridge.in_flight.get() == 0 => Err(SandboxError::NeverSettled),
            None => Ok(None),
        }
    }
}

impl engine::Execution for Execution {
    fn resume(&mut self) -> Option<Result<Outcome, SandboxError>> {
        let advanced = self
            .advance()
            .transpose()
            .map(|outcome| outcome.map_err(|error| run::point_at(error, &self.source)));
        if advanced.is_some() {
            self.bridge.abort();
        }
        advanced
    }

    fn deadline(&self) -> Instant {
        self.watch.deadline()
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        self.bridge.abort();
    }
}

/// render.js and request.js's `settle`, kept between setting the realm up and running.
struct Helpers {
    render: Persistent<Function<'static>>,
    settle: Persistent<Function<'static>>,
}

/// Defines the realm's globals: `console`, the API's and `accountId`, has its `Date` read the
/// host's clock and seeds its `Math.random` from `determinism`.
fn install<'js>(
    ctx: &Ctx<'js>,
    bridge: &Rc<Bridge>,
    sink: &Rc<LogSink>,
    limits: &Limits,
    determinism: Determinism,
) -> rquickjs::Result<Helpers> {
    let seed_realm: Function = scripts::CLOCK.load(ctx)?;
    let clock_reader = bridge.clone();
    let clock = Function::new(ctx.clone(), move || clock_reader.clock_ms())?;
    // The seed as two 32-bit halves.
    seed_realm.call::<_, ()>((
        clock,
        (determinism.seed >> 32) as u32,
        determinism.seed as u32,
    ))?;
    let render: Function = scripts::RENDER.load(ctx)?;
    let create_console: Function = scripts::CONSOLE.load(ctx)?;
    console::install(ctx, &create_console, &render, sink.clone(), limits)?;
    let create_api: Function = scripts::REQUEST.load(ctx)?;
    let sender = bridge.clone();
    let send = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, index: usize, options: String| {
            sender
                .send(index, &options)
                .map_err(|message| Exception::throw_type(&ctx, &message))
        },
    )?;
    let names: Vec<&str> = bridge.api_globals.iter().map(|name| &**name).collect();
    let made: Object = create_api.call((send, names))?;
    let apis: rquickjs::Array = made.get("apis")?;
    let globals = ctx.globals();
    for (index, name) in bridge.api_globals.iter().enumerate() {
        globals.set(&**name, apis.get::<Value>(index)?)?;
    }
    let reader = bridge.clone();
    let account_id = move |ctx: Ctx<'js>| {
        reader
            .account_id()
            .map_err(|reason| Exception::throw_message(&ctx, &reason))
    };
    globals.prop(ACCOUNT_GLOBAL, Accessor::from(account_id).enumerable())?;
    Ok(Helpers {
        render: Persistent::save(ctx, render),
        settle: Persistent::save(ctx, made.get::<_, Function>("settle")?),
    })
}

/// What the tokio side reports to the call.
enum Event {
    /// A request finished with its envelope, or failed with a message.
    Finished {
        id: u32,
        /// The global of the API it went to.
        api: Arc<str>,
        result: Result<Delivery, Rejection>,
    },
    /// The account id lookup finished.
    Account(Result<String, Rejection>),
}

/// Where the account id lookup stands.
enum Account {
    /// The code does not name `accountId`, so it was not looked up.
    Unasked,
    /// The lookup is running.
    Pending,
    /// The lookup finished.
    Known(Result<String, Rejection>),
}

/// Connects one call's JavaScript to its host: starts host futures on the tokio runtime and
/// receives their results, waking the call's worker as each arrives.
struct Bridge {
    host: Arc<dyn Host>,
    handle: Handle,
    api_globals: Arc<[Arc<str>]>,
    inbox: Inbox,
    events: Receiver<Event>,
    next_id: Cell<u32>,
    in_flight: Cell<usize>,
    tasks: RefCell<Vec<JoinHandle<()>>>,
    account: RefCell<Account>,
    /// The latest time the code read, so the clock it sees never goes backwards.
    clock_ms: Cell<i64>,
}

/// Hands host results to the call and wakes its worker.
#[derive(Clone)]
struct Inbox {
    events: Sender<Event>,
    wake: Wake,
}

impl Inbox {
    fn post(&self, event: Event) {
        // The receiver is gone only once the call is over, when the event is not wanted.
        if self.events.send(event).is_ok() {
            self.wake.wake();
        }
    }
}

impl Bridge {
    fn new(host: Arc<dyn Host>, outside: &Outside, wake: Wake) -> Bridge {
        let (events, receiver) = mpsc::channel();
        Bridge {
            host,
            handle: outside.handle.clone(),
            api_globals: outside.api_globals.clone(),
            inbox: Inbox { events, wake },
            events: receiver,
            next_id: Cell::new(0),
            in_flight: Cell::new(0),
            tasks: RefCell::new(Vec::new()),
            account: RefCell::new(Account::Unasked),
            clock_ms: Cell::new(i64::MIN),
        }
    }

    /// The host's clock as a JavaScript number (exact up to 2^53 ms), never earlier than the
    /// code's previous reading.
    fn clock_ms(&self) -> f64 {
        let now = self.host.clock_ms().max(self.clock_ms.get());
        self.clock_ms.set(now);
        now as f64
    }

    /// Starts a request to the API at `index` with the options JSON request.js checked;
    /// returns its id.
    fn send(&self, index: usize, options: &str) -> Result<u32, String> {
        let name = self
            .api_globals
            .get(index)
            .ok_or_else(|| format!("no API at index {index}"))?;
        let options = serde_json::from_str(options)
            .map_err(|error| format!("{name}.request: options are not JSON: {error}"))?;
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        let future = if index == 0 {
            self.host.request(options)
        } else {
            self.host.request_to(name, options)
        };
        let inbox = self.inbox.clone();
        let api = name.clone();
        let task = self.handle.spawn(async move {
            let result = future.await;
            inbox.post(Event::Finished { id, api, result });
        });
        self.tasks.borrow_mut().push(task);
        self.in_flight.set(self.in_flight.get() + 1);
        Ok(id)
    }

    /// Asks the host for the account id, once per call.
    fn look_up_account(&self) {
        let future = self.host.account_id();
        let inbox = self.inbox.clone();
        let task = self.handle.spawn(async move {
            inbox.post(Event::Account(future.await));
        });
        self.tasks.borrow_mut().push(task);
        *self.account.borrow_mut() = Account::Pending;
    }

    /// Whether the account id lookup is still running.
    fn account_pending(&self) -> bool {
        matches!(*self.account.borrow(), Account::Pending)
    }

    /// The account id `accountId` reads, or why reading it throws.
    fn account_id(&self) -> Result<String, String> {
        match &*self.account.borrow() {
            Account::Known(known) => known.clone().map_err(|rejection| rejection.message),
            Account::Unasked | Account::Pending => Err(format!(
                "{ACCOUNT_GLOBAL} is looked up only for code that names it: \
                 write `{ACCOUNT_GLOBAL}` in the code"
            )),
        }
    }

    /// Settles the promise of every request that finished since the last call; false if
    /// nothing had.
    fn deliver<'js>(
        &self,
        ctx: &Ctx<'js>,
        settle: &Function<'js>,
        bounds: &Bounds<'_, 'js>,
    ) -> Result<bool, SandboxError> {
        let mut delivered = false;
        while let Ok(event) = self.events.try_recv() {
            delivered = true;
            match event {
                Event::Account(result) => *self.account.borrow_mut() = Account::Known(result),
                Event::Finished { id, api, result } => {
                    self.in_flight.set(self.in_flight.get().saturating_sub(1));
                    settle_request(ctx, settle, bounds, id, result, &api)?;
                }
            }
        }
        Ok(delivered)
    }

    /// Stops every host future still running.
    fn abort(&self) {
        for task in self.tasks.borrow_mut().drain(..) {
            task.abort();
        }
    }
}

/// Settles request `id`'s promise with its envelope, or rejects it with the host's message,
/// or with one saying the envelope does not fit in the call's memory.
fn settle_request<'js>(
    ctx: &Ctx<'js>,
    settle: &Function<'js>,
    bounds: &Bounds<'_, 'js>,
    id: u32,
    result: Result<Delivery, Rejection>,
    api_global: &str,
) -> Result<(), SandboxError> {
    let failed = |error: rquickjs::Error| run::engine_failure(&error, bounds.limits);
    let converted = result.map(|delivery| {
        let Delivery { envelope, held } = delivery;
        let converted = response::to_js(ctx, envelope);
        drop(held);
        converted
    });
    let null = || Value::new_null(ctx.clone());
    let text = |message: &str| {
        rquickjs::String::from_str(ctx.clone(), message)
            .map(rquickjs::String::into_value)
            .map_err(failed)
    };
    let (envelope, failure) = match converted {
        Ok(Ok(envelope)) => (envelope, null()),
        Ok(Err(_)) if bounds.meter.refused() => {
            // What was built of the envelope is freed by now, so the code may go on without
            // it; the engine's pending "out of memory" is taken, and the refusal forgiven.
            drop(ctx.catch());
            bounds.meter.forgive();
            let message = format!(
                "{api_global}.request: the response is too large: as JavaScript values it does \
                 not fit in the {} MiB this call may use ([sandbox] memory_mib); ask for less \
                 per request (filters, per_page)",
                bounds.limits.memory_bytes >> 20
            );
            (null(), text(&message)?)
        }
        Ok(Err(error)) => return Err(failed(error)),
        Err(rejection) => (null(), text(&rejection.message)?),
    };
    settle
        .call::<_, ()>((id, envelope, failure))
        .catch(ctx)
        .map_err(|caught| run::failure(caught, bounds))
}

//! The runtime `execute` calls run in: a fresh runtime and realm per call, whose only ways
//! out are `cloudflare.request`, `accountId` and `console`, each backed by the host.
//!
//! Host futures run on the tokio runtime; this thread only waits for their results, so
//! several requests can be in flight at once (`Promise.all`). The event loop runs queued
//! jobs until the code's promise settles, waiting for the next finished request whenever the
//! queue is empty, all within the call's deadline.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use rquickjs::object::Accessor;
use rquickjs::{
    CatchResultExt, Context, Ctx, Exception, Function, Object, Persistent, Runtime, Value,
};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::engine::Call;
use crate::error::SandboxError;
use crate::host::Host;
use crate::limits::Limits;
use crate::outcome::Outcome;
use crate::quickjs::console::{self, LogSink};
use crate::quickjs::meter::Meter;
use crate::quickjs::run::Bounds;
use crate::quickjs::watchdog::{Watch, Watchdog};
use crate::quickjs::{Intrinsics, run, scripts};

/// Runs one `execute` call in a fresh runtime.
pub(crate) fn execute(
    call: &Call<'_>,
    host: Arc<dyn Host>,
    handle: &Handle,
) -> Result<Outcome, SandboxError> {
    let limits = call.limits;
    let setup = |error: rquickjs::Error| {
        SandboxError::Unavailable(format!("could not start a JavaScript runtime: {error}"))
    };
    let (meter, allocator) = Meter::new();
    let runtime = Runtime::new_with_alloc(allocator).map_err(setup)?;
    runtime.set_max_stack_size(limits.stack_bytes);
    let watch = Watch::start(limits.timeout, call.cancel.clone(), Some(host.clone()));
    let watchdog = Watchdog::default();
    watchdog.install(&runtime);
    watchdog.watch(watch.clone());
    let (sender, events) = mpsc::channel();
    let waker = sender.clone();
    let _wake_on_cancel = call.cancel.on_cancel(move || {
        // The receiver is gone only once the call is over, when there is no one to wake.
        let _ = waker.send(Event::Cancelled);
    });
    let bridge = Rc::new(Bridge::new(
        host.clone(),
        handle.clone(),
        sender,
        events,
        watch.clone(),
    ));
    let sink = LogSink::new(limits, Some(host));
    let context = Context::custom::<Intrinsics>(&runtime).map_err(setup)?;
    let helpers = context
        .with(|ctx| install(&ctx, &bridge, &sink, limits))
        .map_err(setup)?;
    meter.allow(limits.memory_bytes);
    let outcome = context.with(|ctx| {
        let failed = |error: rquickjs::Error| run::engine_failure(&error, limits);
        let render = helpers.render.restore(&ctx).map_err(failed)?;
        let settle = helpers.settle.restore(&ctx).map_err(failed)?;
        let bounds = Bounds {
            limits,
            watch: &watch,
            meter: &meter,
            render: &render,
        };
        let started = run::start(&ctx, call.code, &bounds)?;
        let value = run::settle(&ctx, &started, &bounds, || {
            deliver(&ctx, &bridge, &settle, &bounds)
        })?;
        let (result, truncation) = run::render(&ctx, value, &bounds)?;
        Ok(Outcome {
            result,
            truncation,
            logs: sink.take(),
        })
    });
    bridge.abort();
    outcome
}

/// render.js and request.js's `settle`, kept between setting the realm up and running.
struct Helpers {
    render: Persistent<Function<'static>>,
    settle: Persistent<Function<'static>>,
}

/// Defines the realm's globals: `console`, `cloudflare` and `accountId`.
fn install<'js>(
    ctx: &Ctx<'js>,
    bridge: &Rc<Bridge>,
    sink: &Rc<LogSink>,
    limits: &Limits,
) -> rquickjs::Result<Helpers> {
    let render: Function = scripts::RENDER.load(ctx)?;
    let create_console: Function = scripts::CONSOLE.load(ctx)?;
    console::install(ctx, &create_console, &render, sink.clone(), limits)?;
    let create_cloudflare: Function = scripts::REQUEST.load(ctx)?;
    let sender = bridge.clone();
    let send = Function::new(ctx.clone(), move |ctx: Ctx<'js>, options: String| {
        sender
            .send(&options)
            .map_err(|message| Exception::throw_type(&ctx, &message))
    })?;
    let made: Object = create_cloudflare.call((send,))?;
    let globals = ctx.globals();
    globals.set("cloudflare", made.get::<_, Value>("cloudflare")?)?;
    let reader = bridge.clone();
    let account_id = move |ctx: Ctx<'js>| {
        reader
            .account_id()
            .map_err(|reason| Exception::throw_message(&ctx, &reason))
    };
    globals.prop("accountId", Accessor::from(account_id).enumerable())?;
    Ok(Helpers {
        render: Persistent::save(ctx, render),
        settle: Persistent::save(ctx, made.get::<_, Function>("settle")?),
    })
}

/// Waits for the next finished request and settles its promise; false if none is in flight.
fn deliver<'js>(
    ctx: &Ctx<'js>,
    bridge: &Bridge,
    settle: &Function<'js>,
    bounds: &Bounds<'_, 'js>,
) -> Result<bool, SandboxError> {
    if bridge.in_flight.get() == 0 {
        return Ok(false);
    }
    let (id, result) = bridge.next_finished()?;
    let failed = |error: rquickjs::Error| run::engine_failure(&error, bounds.limits);
    let (envelope, failure) = match result {
        Ok(envelope) => (
            ctx.json_parse(envelope.to_string()).map_err(failed)?,
            Value::new_null(ctx.clone()),
        ),
        Err(message) => (
            Value::new_null(ctx.clone()),
            rquickjs::String::from_str(ctx.clone(), &message)
                .map_err(failed)?
                .into_value(),
        ),
    };
    settle
        .call::<_, ()>((id, envelope, failure))
        .catch(ctx)
        .map_err(|caught| run::failure(caught, bounds))?;
    Ok(true)
}

/// What the tokio side reports to the sandbox thread.
enum Event {
    /// A request finished with its envelope, or failed with a message.
    Finished {
        id: u32,
        result: Result<serde_json::Value, String>,
    },
    /// The account id lookup finished.
    Account(Result<String, String>),
    /// The call was cancelled.
    Cancelled,
}

/// Connects one call's JavaScript to its host: starts host futures on the tokio runtime and
/// receives their results on the sandbox thread.
struct Bridge {
    host: Arc<dyn Host>,
    handle: Handle,
    sender: Sender<Event>,
    events: Receiver<Event>,
    watch: Rc<Watch>,
    next_id: Cell<u32>,
    in_flight: Cell<usize>,
    tasks: RefCell<Vec<JoinHandle<()>>>,
    account: RefCell<Option<Result<String, String>>>,
    early: RefCell<VecDeque<(u32, Result<serde_json::Value, String>)>>,
}

impl Bridge {
    fn new(
        host: Arc<dyn Host>,
        handle: Handle,
        sender: Sender<Event>,
        events: Receiver<Event>,
        watch: Rc<Watch>,
    ) -> Bridge {
        Bridge {
            host,
            handle,
            sender,
            events,
            watch,
            next_id: Cell::new(0),
            in_flight: Cell::new(0),
            tasks: RefCell::new(Vec::new()),
            account: RefCell::new(None),
            early: RefCell::new(VecDeque::new()),
        }
    }

    /// Starts a request with the options JSON request.js checked; returns its id.
    fn send(&self, options: &str) -> Result<u32, String> {
        let options = serde_json::from_str(options)
            .map_err(|error| format!("cloudflare.request: options are not JSON: {error}"))?;
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        let future = self.host.request(options);
        let sender = self.sender.clone();
        let task = self.handle.spawn(async move {
            let result = future.await;
            // The receiver is gone only once the call is over, when the answer is not wanted.
            let _ = sender.send(Event::Finished { id, result });
        });
        self.tasks.borrow_mut().push(task);
        self.in_flight.set(self.in_flight.get() + 1);
        Ok(id)
    }

    /// The account id, asked of the host once per call; blocks until it is known, the call
    /// is cancelled or the deadline passes.
    fn account_id(&self) -> Result<String, String> {
        if let Some(known) = self.account.borrow().clone() {
            return known;
        }
        let future = self.host.account_id();
        let sender = self.sender.clone();
        let task = self.handle.spawn(async move {
            // The receiver is gone only once the call is over, when the answer is not wanted.
            let _ = sender.send(Event::Account(future.await));
        });
        self.tasks.borrow_mut().push(task);
        loop {
            match self.receive() {
                Some(Event::Account(result)) => {
                    *self.account.borrow_mut() = Some(result.clone());
                    return result;
                }
                Some(Event::Finished { id, result }) => {
                    self.early.borrow_mut().push_back((id, result))
                }
                Some(Event::Cancelled) | None => {
                    return Err("accountId could not be read before the call ended".into());
                }
            }
        }
    }

    /// The next request to finish; fails once the call is cancelled or past its deadline.
    fn next_finished(&self) -> Result<(u32, Result<serde_json::Value, String>), SandboxError> {
        loop {
            if let Some(finished) = self.early.borrow_mut().pop_front() {
                self.in_flight.set(self.in_flight.get().saturating_sub(1));
                return Ok(finished);
            }
            if let Some(stop) = self.watch.stop() {
                return Err(self.watch.error(stop));
            }
            match self.receive() {
                Some(Event::Finished { id, result }) => {
                    self.early.borrow_mut().push_back((id, result))
                }
                Some(Event::Account(result)) => {
                    self.account.borrow_mut().get_or_insert(result);
                }
                Some(Event::Cancelled) | None => {}
            }
        }
    }

    /// The next event, or None once the deadline passes first.
    fn receive(&self) -> Option<Event> {
        let timeout = self
            .watch
            .deadline()
            .saturating_duration_since(Instant::now());
        self.events.recv_timeout(timeout).ok()
    }

    /// Stops every host future still running.
    fn abort(&self) {
        for task in self.tasks.borrow_mut().drain(..) {
            task.abort();
        }
    }
}

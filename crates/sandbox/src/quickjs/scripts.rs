//! The JavaScript that runs inside the sandbox, from `sandbox-runtime/`, and how to load it:
//! each script is compiled to QuickJS bytecode once per process, so a call only reads it back.

use std::sync::OnceLock;

use rquickjs::{CatchResultExt, Context, Ctx, FromJs, Module, Runtime, WriteOptions};

/// A script from `sandbox-runtime/`, the file name its stack frames show, and its bytecode
/// once compiled.
pub(crate) struct Script {
    name: &'static str,
    source: &'static str,
    bytecode: OnceLock<Result<Vec<u8>, String>>,
}

/// `render(value, maxChars)`: JSON with structural truncation.
pub(crate) static RENDER: Script = Script::new(
    "render.js",
    include_str!("../../../../sandbox-runtime/render.js"),
);

/// `createConsole(render, emit, maxChars)`: the console object.
pub(crate) static CONSOLE: Script = Script::new(
    "console.js",
    include_str!("../../../../sandbox-runtime/console.js"),
);

/// `createApi(send, name)`: the API's `request` and its `settle` hook.
pub(crate) static REQUEST: Script = Script::new(
    "request.js",
    include_str!("../../../../sandbox-runtime/request.js"),
);

/// `seedRealm(clock, seedHigh, seedLow)`: the call's host-read clock and seeded `Math.random`.
pub(crate) static CLOCK: Script = Script::new(
    "clock.js",
    include_str!("../../../../sandbox-runtime/clock.js"),
);

/// `lockdown()`: freezes the shared spec realm.
pub(crate) static LOCKDOWN: Script = Script::new(
    "lockdown.js",
    include_str!("../../../../sandbox-runtime/lockdown.js"),
);

impl Script {
    const fn new(name: &'static str, source: &'static str) -> Script {
        Script {
            name,
            source,
            bytecode: OnceLock::new(),
        }
    }

    /// Evaluates the script in `ctx` (strict mode) and returns what it evaluates to.
    pub(crate) fn load<'js, T: FromJs<'js>>(&'static self, ctx: &Ctx<'js>) -> rquickjs::Result<T> {
        let bytecode = self
            .bytecode
            .get_or_init(|| self.compile())
            .as_ref()
            .map_err(|message| {
                rquickjs::Error::new_from_js_message("source", "bytecode", message.clone())
            })?;
        // SAFETY: the bytes were written by `Module::write` of this same QuickJS build, and
        // live as long as the process, as reading them without a copy requires.
        let module = unsafe { Module::load(ctx.clone(), bytecode) }?;
        let (module, evaluated) = module.eval()?;
        evaluated.finish::<()>()?;
        module.get("default")
    }

    /// Compiles the script, as a module whose default export is what it evaluates to, in a
    /// runtime of its own.
    fn compile(&self) -> Result<Vec<u8>, String> {
        let failed = |error: rquickjs::Error| format!("{}: {error}", self.name);
        let runtime = Runtime::new().map_err(failed)?;
        let context = Context::full(&runtime).map_err(failed)?;
        context.with(|ctx| {
            Module::declare(
                ctx.clone(),
                format!("sandbox:{}", self.name),
                format!("export default {}", self.source),
            )
            .and_then(|module| module.write(WriteOptions::default()))
            .catch(&ctx)
            .map_err(|caught| format!("{}: {caught}", self.name))
        })
    }
}

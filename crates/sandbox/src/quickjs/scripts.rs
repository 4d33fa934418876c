//! The JavaScript that runs inside the sandbox, from `sandbox-runtime/`, and how to load it.

use rquickjs::context::EvalOptions;
use rquickjs::{Ctx, FromJs};

/// A script from `sandbox-runtime/` and the file name its stack frames show.
pub(crate) struct Script {
    name: &'static str,
    source: &'static str,
}

/// `render(value, maxChars)`: JSON with structural truncation.
pub(crate) const RENDER: Script = Script {
    name: "render.js",
    source: include_str!("../../../../sandbox-runtime/render.js"),
};

/// `createConsole(render, emit, maxChars)`: the console object.
pub(crate) const CONSOLE: Script = Script {
    name: "console.js",
    source: include_str!("../../../../sandbox-runtime/console.js"),
};

/// `createCloudflare(send)`: `cloudflare.request` and its `settle` hook.
pub(crate) const REQUEST: Script = Script {
    name: "request.js",
    source: include_str!("../../../../sandbox-runtime/request.js"),
};

/// `lockdown()`: freezes the shared spec realm.
pub(crate) const LOCKDOWN: Script = Script {
    name: "lockdown.js",
    source: include_str!("../../../../sandbox-runtime/lockdown.js"),
};

impl Script {
    /// Evaluates the script in `ctx` (strict mode) and returns what it evaluates to.
    pub(crate) fn load<'js, T: FromJs<'js>>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<T> {
        let mut options = EvalOptions::default();
        options.filename = Some(format!("sandbox:{}", self.name));
        ctx.eval_with_options(self.source, options)
    }
}

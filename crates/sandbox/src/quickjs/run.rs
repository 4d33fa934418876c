//! The steps every call takes inside a QuickJS context: compile the agent's code, start it,
//! drive its promise to the end, and turn the outcome into JSON or a [`SandboxError`].

use std::time::{Duration, Instant};

use rquickjs::promise::PromiseState;
use rquickjs::{CatchResultExt, CaughtError, Ctx, Function, Object, Promise, Value};

use crate::error::SandboxError;
use crate::limits::Limits;
use crate::outcome::{JsonText, Truncation};
use crate::quickjs::meter::Meter;
use crate::quickjs::watchdog::Watch;
use crate::source::{self, CompileError, ScriptError};

/// The file name agent code runs under, as it appears in stack traces.
const AGENT_FILE: &str = "agent.js";

/// How long leftover jobs may run after the result is known before the runtime is discarded.
const DRAIN_GRACE: Duration = Duration::from_millis(100);

/// Maximum characters of a thrown non-Error value quoted in the error.
const THROWN_VALUE_CHARS: usize = 2_000;

/// Maximum characters of the agent's line quoted under a runtime error.
const QUOTED_LINE_CHARS: usize = 160;

/// What one running call is bound by and rendered with: its limits, its clock, the memory
/// meter of its runtime, and render.js.
pub(crate) struct Bounds<'a, 'js> {
    /// The call's limits.
    pub limits: &'a Limits,
    /// The call's deadline and cancel token.
    pub watch: &'a Watch,
    /// The memory of the runtime the call runs in.
    pub meter: &'a Meter,
    /// render.js, loaded in this runtime.
    pub render: &'a Function<'js>,
}

/// Agent code compiled and started.
pub(crate) struct Started<'js> {
    /// Settles with the code's result.
    pub promise: Promise<'js>,
    /// Bytes the wrapper added before the code on line 1, to correct stack-trace columns.
    pub shift: usize,
}

/// Compiles the agent's code in `ctx` and starts it.
pub(crate) fn start<'js>(
    ctx: &Ctx<'js>,
    code: &str,
    bounds: &Bounds<'_, 'js>,
) -> Result<Started<'js>, SandboxError> {
    let (thunk, shift) = source::compile(code, bounds.limits.code_bytes, |script| {
        compile(ctx, script, bounds)
    })?;
    let shifted = |error| shift_stack(error, shift);
    let value: Value = thunk
        .call(())
        .catch(ctx)
        .map_err(|caught| shifted(failure(caught, bounds)))?;
    let value = match value.as_function() {
        Some(function) => function
            .call(())
            .catch(ctx)
            .map_err(|caught| shifted(failure(caught, bounds)))?,
        None => value,
    };
    let (promise, resolve, _reject) = ctx
        .promise()
        .map_err(|error| engine_failure(&error, bounds.limits))?;
    resolve
        .call::<_, ()>((value,))
        .catch(ctx)
        .map_err(|caught| shifted(failure(caught, bounds)))?;
    Ok(Started { promise, shift })
}

/// Compiles one wrapped script to the thunk it evaluates to.
fn compile<'js>(
    ctx: &Ctx<'js>,
    script: &str,
    bounds: &Bounds<'_, 'js>,
) -> Result<Function<'js>, CompileError> {
    let mut options = rquickjs::context::EvalOptions::default();
    options.filename = Some(AGENT_FILE.to_owned());
    match ctx
        .eval_with_options::<Value, _>(script, options)
        .catch(ctx)
    {
        Ok(value) => value.into_function().ok_or_else(|| {
            CompileError::Fatal(SandboxError::Unavailable(
                "the wrapped code did not evaluate to a function".into(),
            ))
        }),
        Err(CaughtError::Exception(exception))
            if exception
                .get::<_, String>("name")
                .is_ok_and(|name| name == "SyntaxError") =>
        {
            let message = exception.message().unwrap_or_default();
            let (line, byte_column) = exception
                .stack()
                .and_then(|stack| first_location(&stack))
                .unwrap_or((1, 1));
            Err(CompileError::Syntax(ScriptError {
                message,
                line,
                byte_column,
            }))
        }
        Err(caught) => Err(CompileError::Fatal(failure(caught, bounds))),
    }
}

/// The first `agent.js:line:column` in a stack trace.
fn first_location(stack: &str) -> Option<(u32, u32)> {
    let marker = format!("{AGENT_FILE}:");
    let at = stack.find(&marker)? + marker.len();
    let mut numbers = stack[at..].split(|c: char| !c.is_ascii_digit());
    let line = numbers.next()?.parse().ok()?;
    let column = numbers.next()?.parse().ok()?;
    Some((line, column))
}

/// Runs queued jobs, one at a time, until the started promise settles, then returns its
/// value; None once nothing is left to run. `deliver` hands the code whatever its host has
/// finished since, and says whether there was anything.
pub(crate) fn settle<'js>(
    ctx: &Ctx<'js>,
    started: &Started<'js>,
    bounds: &Bounds<'_, 'js>,
    mut deliver: impl FnMut() -> Result<bool, SandboxError>,
) -> Result<Option<Value<'js>>, SandboxError> {
    let shifted = |error| shift_stack(error, started.shift);
    let watch = bounds.watch;
    loop {
        if let Some(stop) = watch.stop() {
            return Err(watch.error(stop));
        }
        match started.promise.state() {
            PromiseState::Resolved => {
                return started
                    .promise
                    .result::<Value>()
                    .unwrap_or_else(|| Ok(Value::new_undefined(ctx.clone())))
                    .catch(ctx)
                    .map(Some)
                    .map_err(|caught| shifted(failure(caught, bounds)));
            }
            PromiseState::Rejected => {
                let reason = match started.promise.result::<Value>() {
                    Some(Err(_)) => ctx.catch(),
                    _ => Value::new_undefined(ctx.clone()),
                };
                return Err(shifted(thrown(reason, bounds)));
            }
            PromiseState::Pending => {
                if !ctx.execute_pending_job() && !deliver()? {
                    return Ok(None);
                }
            }
        }
    }
}

/// Runs the jobs the code left queued, briefly; false if some are still queued.
pub(crate) fn drain(ctx: &Ctx<'_>, watch: &Watch) -> bool {
    watch.shorten(Instant::now() + DRAIN_GRACE);
    while ctx.execute_pending_job() {
        if watch.stop().is_some() {
            return !ctx.execute_pending_job();
        }
    }
    true
}

/// Renders `value` to JSON within the result limit: `JSON.stringify`'s text when it fits,
/// else render.js's structural cut.
pub(crate) fn render<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    bounds: &Bounds<'_, 'js>,
) -> Result<(JsonText, Option<Truncation>), SandboxError> {
    let limits = bounds.limits;
    let whole = stringify_within(ctx, &value, limits.result_chars)
        .catch(ctx)
        .map_err(|caught| failure(caught, bounds))?;
    if let Some(json) = whole {
        return Ok((read_back(json)?, None));
    }
    let rendered: Object = bounds
        .render
        .call((value, limits.result_chars))
        .catch(ctx)
        .map_err(|caught| failure(caught, bounds))?;
    let json: String = rendered
        .get("json")
        .map_err(|error| engine_failure(&error, limits))?;
    let truncation = match rendered.get::<_, Option<Object>>("truncation") {
        Ok(Some(details)) => Some(truncation(&details)),
        Ok(None) => None,
        Err(error) => return Err(engine_failure(&error, limits)),
    };
    Ok((read_back(json)?, truncation))
}

/// `JSON.stringify(value)` if its text is at most `max_chars` long (`undefined` as `null`);
/// `None` if it is longer, or if `JSON.stringify` rejects the value (a BigInt, a cycle, a
/// throwing `toJSON`), which render.js then cuts or reports. The writing stops soon after the
/// limit (`JS_JSONStringifyBounded`, vendored QuickJS), so a value as large as the whole spec
/// is never written out.
fn stringify_within<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
    max_chars: usize,
) -> rquickjs::Result<Option<String>> {
    let max_chars = i64::try_from(max_chars).unwrap_or(i64::MAX);
    // SAFETY: the context and the value are alive for 'js. The function returns a new
    // reference, which `from_raw` takes over, or JS_EXCEPTION with the exception pending.
    let text = unsafe {
        let raw = rquickjs::qjs::JS_JSONStringifyBounded(
            ctx.as_raw().as_ptr(),
            value.as_raw(),
            max_chars,
        );
        if rquickjs::qjs::JS_IsException(raw) {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), raw)
    };
    if text.is_undefined() {
        return Ok(Some("null".to_owned()));
    }
    text.into_string().map(|text| text.to_string()).transpose()
}

/// The rendered text, checked to be one JSON value.
fn read_back(json: String) -> Result<JsonText, SandboxError> {
    JsonText::new(json).map_err(|error| SandboxError::Thrown {
        message: format!("the result could not be read back as JSON: {error}"),
    })
}

/// Reads render.js's truncation details.
fn truncation(details: &Object<'_>) -> Truncation {
    let count = |key: &str| {
        details
            .get::<_, f64>(key)
            .map_or(0, |value| value.max(0.0) as u64)
    };
    Truncation {
        full_chars: count("fullChars"),
        full_is_lower_bound: details.get("fullIsLowerBound").unwrap_or(true),
        shown_chars: count("shownChars"),
        omitted_items: count("omittedItems"),
        omitted_keys: count("omittedKeys"),
        omitted_chars: count("omittedChars"),
    }
}

/// The error for something caught from QuickJS while running the call.
pub(crate) fn failure<'js>(caught: CaughtError<'js>, bounds: &Bounds<'_, 'js>) -> SandboxError {
    match caught {
        CaughtError::Exception(exception) => thrown(exception.into_value(), bounds),
        CaughtError::Value(value) => thrown(value, bounds),
        CaughtError::Error(error) => {
            stopped(bounds).unwrap_or_else(|| engine_failure(&error, bounds.limits))
        }
    }
}

/// The error for a call that was stopped from outside or ran out of memory, if it was.
fn stopped(bounds: &Bounds<'_, '_>) -> Option<SandboxError> {
    if let Some(stop) = bounds.watch.stop() {
        return Some(bounds.watch.error(stop));
    }
    bounds.meter.refused().then_some(SandboxError::OutOfMemory {
        limit_bytes: bounds.limits.memory_bytes,
    })
}

/// The error for a value the code threw or rejected with.
fn thrown<'js>(value: Value<'js>, bounds: &Bounds<'_, 'js>) -> SandboxError {
    if let Some(error) = stopped(bounds) {
        return error;
    }
    let Some(error) = value.as_exception() else {
        return SandboxError::Thrown {
            message: format!("Uncaught {}", describe(&value, bounds)),
        };
    };
    let name = error
        .get::<_, String>("name")
        .unwrap_or_else(|_| "Error".into());
    let message = error.message().unwrap_or_default();
    match (name.as_str(), message.as_str()) {
        ("InternalError", "out of memory") => SandboxError::OutOfMemory {
            limit_bytes: bounds.limits.memory_bytes,
        },
        ("RangeError", "Maximum call stack size exceeded") => SandboxError::StackOverflow,
        _ => {
            let stack = error.stack().unwrap_or_default();
            let stack = stack.trim_end();
            let head = if message.is_empty() {
                name
            } else {
                format!("{name}: {message}")
            };
            SandboxError::Thrown {
                message: if stack.is_empty() {
                    format!("Uncaught {head}")
                } else {
                    format!("Uncaught {head}\n{stack}")
                },
            }
        }
    }
}

/// A thrown value that is not an Error, as (cut) JSON where possible.
fn describe<'js>(value: &Value<'js>, bounds: &Bounds<'_, 'js>) -> String {
    if value.is_undefined() {
        return "undefined".into();
    }
    bounds
        .render
        .call::<_, Object>((value.clone(), THROWN_VALUE_CHARS))
        .and_then(|rendered| rendered.get::<_, String>("json"))
        .or_else(|_| {
            value
                .get::<rquickjs::Coerced<String>>()
                .map(|coerced| coerced.0)
        })
        .unwrap_or_else(|_| format!("a {}", value.type_name()))
}

/// The error for a failure inside the engine itself rather than in the agent's code.
pub(crate) fn engine_failure(error: &rquickjs::Error, limits: &Limits) -> SandboxError {
    match error {
        rquickjs::Error::Allocation => SandboxError::OutOfMemory {
            limit_bytes: limits.memory_bytes,
        },
        other => SandboxError::Unavailable(format!("the JavaScript engine failed: {other}")),
    }
}

/// Adds to a thrown error the line and column of the agent's code it was thrown at (the first
/// place in its stack that is the agent's), and that line with a caret under the column.
pub(crate) fn point_at(error: SandboxError, code: &str) -> SandboxError {
    let SandboxError::Thrown { message } = error else {
        return error;
    };
    let Some((line, column)) = first_location(&message) else {
        return SandboxError::Thrown { message };
    };
    let Some(text) = code.lines().nth(line.saturating_sub(1) as usize) else {
        return SandboxError::Thrown { message };
    };
    let quoted: String = text.chars().take(QUOTED_LINE_CHARS).collect();
    let gutter = line.to_string();
    let caret = " ".repeat(
        quoted
            .chars()
            .take(column.saturating_sub(1) as usize)
            .count(),
    );
    SandboxError::Thrown {
        message: format!(
            "{message}\nat line {line}, column {column} of the code:\n{gutter} | {quoted}\n{} | {caret}^",
            " ".repeat(gutter.len())
        ),
    }
}

/// Corrects first-line columns in a thrown error's stack trace for the wrapper.
fn shift_stack(error: SandboxError, shift: usize) -> SandboxError {
    let SandboxError::Thrown { message } = error else {
        return error;
    };
    let marker = format!("{AGENT_FILE}:1:");
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(at) = rest.find(&marker) {
        let (before, after) = rest.split_at(at + marker.len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match after[..digits].parse::<usize>() {
            Ok(column) => out.push_str(&column.saturating_sub(shift).max(1).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    SandboxError::Thrown { message: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_agent_location_is_read_from_a_stack() {
        assert_eq!(first_location("    at agent.js:3:14\n"), Some((3, 14)));
        assert_eq!(first_location("    at f (render.js:1:2)\n"), None);
    }

    #[test]
    fn a_thrown_error_quotes_the_agent_line_it_came_from() {
        let error = SandboxError::Thrown {
            message: "Uncaught TypeError: x is undefined\n    at <anonymous> (agent.js:2:13)"
                .into(),
        };
        let code = "async () => {\n  const y = x.name;\n}";
        let SandboxError::Thrown { message } = point_at(error, code) else {
            panic!("still thrown");
        };
        assert!(
            message.ends_with(
                "at line 2, column 13 of the code:\n2 |   const y = x.name;\n  |             ^"
            ),
            "{message}"
        );
        let other = point_at(SandboxError::StackOverflow, code);
        assert_eq!(other, SandboxError::StackOverflow);
    }

    #[test]
    fn first_line_columns_lose_the_wrapper() {
        let error = SandboxError::Thrown {
            message:
                "Uncaught Error: x\n    at <anonymous> (agent.js:1:20)\n    at g (agent.js:2:5)"
                    .into(),
        };
        assert_eq!(
            shift_stack(error, 14),
            SandboxError::Thrown {
                message:
                    "Uncaught Error: x\n    at <anonymous> (agent.js:1:6)\n    at g (agent.js:2:5)"
                        .into()
            }
        );
    }
}

//! The console agent code writes to: lines are kept for the outcome and, in `execute`,
//! handed to the host as they happen.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use rquickjs::{Ctx, Function, Object};

use crate::host::Host;
use crate::limits::Limits;
use crate::outcome::{LogLevel, LogLine};

/// Collects one call's console lines, up to the console limit.
pub(crate) struct LogSink {
    lines: RefCell<Vec<LogLine>>,
    room: Cell<usize>,
    full: Cell<bool>,
    limit: usize,
    host: Option<Arc<dyn Host>>,
}

impl LogSink {
    /// A sink keeping up to `limits.log_chars` characters and, if given, passing each line
    /// to `host` as it is written.
    pub(crate) fn new(limits: &Limits, host: Option<Arc<dyn Host>>) -> Rc<LogSink> {
        Rc::new(LogSink {
            lines: RefCell::new(Vec::new()),
            room: Cell::new(limits.log_chars),
            full: Cell::new(false),
            limit: limits.log_chars,
            host,
        })
    }

    /// Records a line; past the limit, cuts it and records one notice instead of the rest.
    fn write(&self, level: LogLevel, text: String) {
        if self.full.get() {
            return;
        }
        let room = self.room.get();
        let length = text.chars().count();
        if length <= room {
            self.room.set(room - length);
            self.push(LogLine { level, text });
            return;
        }
        if room > 0 {
            let cut: String = text.chars().take(room).collect();
            self.push(LogLine {
                level,
                text: format!("{cut} …"),
            });
        }
        self.full.set(true);
        self.push(LogLine {
            level: LogLevel::Warn,
            text: format!(
                "console output truncated: the code logged more than {} characters; later lines were dropped",
                self.limit
            ),
        });
    }

    fn push(&self, line: LogLine) {
        if let Some(host) = &self.host {
            host.log(&line);
        }
        self.lines.borrow_mut().push(line);
    }

    /// The lines written so far, leaving the sink empty.
    pub(crate) fn take(&self) -> Vec<LogLine> {
        self.lines.take()
    }
}

/// Defines the global `console` in `ctx`, writing to `sink`. `create_console` and `render`
/// are console.js and render.js, loaded in this context or in one sharing its runtime.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    create_console: &Function<'js>,
    render: &Function<'js>,
    sink: Rc<LogSink>,
    limits: &Limits,
) -> rquickjs::Result<()> {
    let emit = Function::new(ctx.clone(), move |method: String, text: String| {
        sink.write(
            LogLevel::from_method(&method).unwrap_or(LogLevel::Log),
            text,
        );
    })?;
    let console: Object = create_console.call((
        render.clone(),
        emit,
        limits.result_chars.min(limits.log_chars),
    ))?;
    ctx.globals().set("console", console)
}

//! Turns the code an agent sends into a script the engine can compile, keeping every
//! character where the agent wrote it.
//!
//! Accepted: a function expression (`async () => {...}`, a plain arrow, `function` or
//! `async function`), any other expression, or a bare function body (statements ending in
//! `return`), optionally inside a Markdown code fence, optionally in TypeScript. The code is
//! wrapped so that evaluating the script yields a thunk; the wrapper sits on the first line,
//! so only first-line columns shift, and errors are mapped back.

use crate::error::SandboxError;
use crate::typescript::{self, Stripped};

/// A syntax error the engine reported, located in the compiled script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptError {
    /// The engine's message.
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in bytes from the start of the line.
    pub byte_column: u32,
}

/// Why compiling one candidate script failed.
pub(crate) enum CompileError {
    /// The script does not parse; another form may.
    Syntax(ScriptError),
    /// The engine could not compile at all (out of memory, interrupted, ...).
    Fatal(SandboxError),
}

/// The ways the agent's code can be wrapped. Each wrapped script evaluates to a function
/// that, called with no arguments, runs the agent's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// An expression: a thunk returning its value (a function is called afterwards).
    Expression,
    /// Statements: the body of an async arrow function.
    Body,
}

impl Form {
    fn prefix(self) -> &'static str {
        match self {
            Form::Expression => "(() => (",
            Form::Body => "(async () => {",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Form::Expression => "\n))",
            Form::Body => "\n})",
        }
    }

    fn wrap(self, code: &str) -> String {
        [self.prefix(), code, self.suffix()].concat()
    }
}

/// Compiles the agent's `code` with `compile`, trying each accepted form as JavaScript and
/// then, if none parses, as TypeScript with its types blanked out. Returns what `compile`
/// made and how many bytes the wrapper added before the code on its first line. Reports the
/// syntax error of the form the code most looks like, in the code's own lines and columns.
pub(crate) fn compile<T>(
    code: &str,
    limit: usize,
    mut compile: impl FnMut(&str) -> Result<T, CompileError>,
) -> Result<(T, usize), SandboxError> {
    if code.len() > limit {
        return Err(SandboxError::CodeTooLarge {
            bytes: code.len(),
            limit,
        });
    }
    let text = unfence(code);
    let text = text.trim_end_matches(|c: char| c.is_whitespace() || c == ';');
    if text.trim().is_empty() {
        return Err(SandboxError::Syntax {
            message: "no code: send a function such as `async () => { return 1; }`".into(),
            line: 1,
            column: 1,
        });
    }
    let forms = [Form::Expression, Form::Body];
    let mut errors = Vec::with_capacity(forms.len());
    for form in forms {
        match compile(&form.wrap(text)) {
            Ok(compiled) => return Ok((compiled, form.prefix().len())),
            Err(CompileError::Syntax(error)) => errors.push((form, error)),
            Err(CompileError::Fatal(error)) => return Err(error),
        }
    }
    match typescript::strip(text) {
        Stripped::Code(stripped) => {
            for form in forms {
                match compile(&form.wrap(&stripped)) {
                    Ok(compiled) => return Ok((compiled, form.prefix().len())),
                    Err(CompileError::Syntax(_)) => {}
                    Err(CompileError::Fatal(error)) => return Err(error),
                }
            }
        }
        Stripped::Unsupported { offset, message } => {
            let (line, byte_column) = locate(text, offset);
            return Err(to_agent_position(
                text,
                0,
                ScriptError {
                    message,
                    line,
                    byte_column,
                },
            ));
        }
        Stripped::NotTypeScript => {}
    }
    let likely = if looks_like_function(text) {
        Form::Expression
    } else {
        Form::Body
    };
    let (form, error) = errors
        .into_iter()
        .find(|(form, _)| *form == likely)
        .ok_or_else(|| SandboxError::Unavailable("no form was tried".into()))?;
    Err(to_agent_position(text, form.prefix().len(), error))
}

/// Blanks a Markdown code fence around the code (```` ```js ````, ```` ```ts ````, ...) with
/// spaces, so lines and columns stay where the agent wrote them.
fn unfence(code: &str) -> String {
    let start = code.len() - code.trim_start().len();
    if !code[start..].starts_with("```") {
        return code.to_owned();
    }
    let mut blank = vec![false; code.len()];
    let opening_end = code[start..].find('\n').map_or(code.len(), |at| start + at);
    blank[start..opening_end].fill(true);
    let trimmed_end = code.trim_end().len();
    let closing_start = code[..trimmed_end]
        .rfind('\n')
        .map_or(trimmed_end, |at| at + 1);
    if closing_start > opening_end && code[closing_start..trimmed_end].trim() == "```" {
        blank[closing_start..].fill(true);
    }
    code.char_indices()
        .map(|(at, c)| {
            if blank[at] && c != '\n' && c != '\r' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Whether the code reads as a function expression rather than a bare body.
fn looks_like_function(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with("function")
        || text.starts_with("async")
        || (text.starts_with('(') && text.contains("=>"))
}

/// 1-based line and byte column of byte `offset` in `script`.
pub(crate) fn locate(script: &str, offset: usize) -> (u32, u32) {
    let before = &script[..char_floor(script, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    (saturate(line), saturate(before.len() - line_start + 1))
}

/// Maps a syntax error in a script back to the agent's code: first-line columns lose the
/// `prefix` bytes of the wrapper, byte columns become character columns, and positions past
/// the code (in the wrapper's suffix) move to its end.
fn to_agent_position(text: &str, prefix: usize, error: ScriptError) -> SandboxError {
    let lines: Vec<&str> = text.split('\n').collect();
    let index = usize::try_from(error.line.max(1) - 1).unwrap_or(usize::MAX);
    let (line, column) = match lines.get(index) {
        Some(line_text) => {
            let wrapper = if index == 0 { prefix } else { 0 };
            let byte = usize::try_from(error.byte_column.max(1) - 1)
                .unwrap_or(usize::MAX)
                .saturating_sub(wrapper)
                .min(line_text.len());
            let chars = line_text[..char_floor(line_text, byte)].chars().count();
            (index + 1, chars + 1)
        }
        None => {
            let last = lines
                .last()
                .map_or(0, |line_text| line_text.chars().count());
            (lines.len(), last + 1)
        }
    };
    SandboxError::Syntax {
        message: error.message,
        line: saturate(line),
        column: saturate(column),
    }
}

/// The largest char boundary of `text` at or before `offset`.
fn char_floor(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn saturate(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in compiler that accepts scripts containing `ok` and reports a syntax error
    /// at the first `!` otherwise.
    fn fake(script: &str) -> Result<String, CompileError> {
        if script.contains("ok") && !script.contains('!') {
            return Ok(script.to_owned());
        }
        let offset = script.find('!').unwrap_or(0);
        let (line, byte_column) = locate(script, offset);
        Err(CompileError::Syntax(ScriptError {
            message: "bang".into(),
            line,
            byte_column,
        }))
    }

    #[test]
    fn fences_are_blanked_in_place() {
        let code = "```ts\nreturn 1\n```\n";
        assert_eq!(unfence(code), "     \nreturn 1\n   \n");
        assert_eq!(unfence("return 1"), "return 1");
    }

    #[test]
    fn trailing_semicolons_do_not_end_the_expression() {
        let compiled = compile("async () => ok;  \n", 100, fake).ok();
        assert_eq!(compiled, Some(("(() => (async () => ok\n))".to_owned(), 8)));
    }

    #[test]
    fn errors_on_the_first_line_lose_the_wrapper_columns() {
        let error = compile("async () => é!", 100, fake).err();
        assert_eq!(
            error,
            Some(SandboxError::Syntax {
                message: "bang".into(),
                line: 1,
                column: 14
            })
        );
    }

    #[test]
    fn errors_on_later_lines_keep_their_columns() {
        let error = compile("const a = 1\n  a!", 100, fake).err();
        assert_eq!(
            error,
            Some(SandboxError::Syntax {
                message: "bang".into(),
                line: 2,
                column: 4
            })
        );
    }

    #[test]
    fn oversized_and_empty_code_is_refused_before_compiling() {
        assert_eq!(
            compile("x".repeat(11).as_str(), 10, fake).err(),
            Some(SandboxError::CodeTooLarge {
                bytes: 11,
                limit: 10
            })
        );
        assert!(matches!(
            compile("```js\n```", 100, fake),
            Err(SandboxError::Syntax {
                line: 1,
                column: 1,
                ..
            })
        ));
    }
}

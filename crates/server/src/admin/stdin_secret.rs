//! Reading one secret from standard input, so it stays out of argv, shell history and the screen.

use std::io::{self, IsTerminal, Read};

use anyhow::bail;

/// The longest secret accepted, in bytes; more is surely not a token.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Reads `what` (say, "the credential") from stdin: one line, one trailing newline removed.
///
/// Refuses a terminal, where the secret would show as it is typed; `example` is the command
/// line suggested instead.
pub fn read_secret(what: &str, example: &str) -> anyhow::Result<String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        bail!(
            "{what} is read from stdin, and stdin is a terminal, where it would show as you \
             type; pipe it in instead, for example:\n    {example}"
        );
    }
    let mut text = String::new();
    let read = stdin
        .lock()
        .take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|error| anyhow::anyhow!("cannot read {what} from stdin: {error}"))?;
    if read as u64 > MAX_SECRET_BYTES {
        bail!("{what} on stdin is longer than {MAX_SECRET_BYTES} bytes");
    }
    let secret = strip_one_newline(&text);
    if secret.is_empty() {
        bail!("{what} on stdin is empty");
    }
    if secret.contains(['\n', '\r']) {
        bail!("{what} on stdin has more than one line");
    }
    Ok(secret.to_string())
}

/// `text` without one trailing `\n` or `\r\n`.
fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix('\n')
        .map_or(text, |line| line.strip_suffix('\r').unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_exactly_one_line_ending() {
        assert_eq!(strip_one_newline("token\n"), "token");
        assert_eq!(strip_one_newline("token\r\n"), "token");
        assert_eq!(strip_one_newline("token"), "token");
        assert_eq!(strip_one_newline("token \n"), "token ");
        assert_eq!(strip_one_newline("token\n\n"), "token\n");
    }
}

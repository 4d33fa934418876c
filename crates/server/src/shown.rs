//! Text shown to a person (approval questions, pages, the command line) made safe to show:
//! control, format and bidirectional characters are written as visible escapes, so text the
//! agent chose cannot redraw a terminal, reorder a line or pose as the server's own words.

use std::fmt::Write as _;

/// `text` with every control, format and bidi character escaped as `\u{…}`, and `\` doubled
/// so an escape cannot be forged.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// At most `limit` characters of `text`, escaped, with `…` when it was cut.
pub fn excerpt(text: &str, limit: usize) -> String {
    let mut shown = escaped(&text.chars().take(limit).collect::<String>());
    if text.chars().nth(limit).is_some() {
        shown.push_str(" …");
    }
    shown
}

/// Control characters (C0, DEL, C1), line and paragraph separators, and the format characters
/// that change how text around them is shown (bidi embeddings, overrides and isolates,
/// zero-width characters, the byte-order mark).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_bidi_tricks_become_visible() {
        assert_eq!(escaped("a\u{1b}[2K\rb"), "a\\u{1b}[2K\\u{d}b");
        assert_eq!(escaped("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(escaped("one\ntwo"), "one\\u{a}two");
        assert_eq!(escaped("\\u{a}"), "\\\\u{a}", "an escape cannot be forged");
        assert_eq!(escaped("zone café ✓"), "zone café ✓");
    }

    #[test]
    fn an_excerpt_says_when_it_was_cut() {
        assert_eq!(excerpt("abcdef", 3), "abc …");
        assert_eq!(excerpt("abc", 3), "abc");
    }
}

//! The code normaliser: any agent code, fenced or not, JavaScript or TypeScript, becomes a script
//! or a located error, and every line of the code below the wrapper's first line keeps its length.
#![no_main]

use std::thread;

use libfuzzer_sys::fuzz_target;
use oxc_allocator::Allocator;
use oxc_parser::{ParseOptions, Parser};
use oxc_span::SourceType;

// The input is one byte choosing which candidate scripts parse, then the code: `j` takes what
// oxc parses as a JavaScript script (as QuickJS mostly would); any other byte is a mask, candidate
// `n` parsing when bit `n` is set, which reaches every branch whatever the code.
fuzz_target!(|data: &[u8]| {
    let Some((&engine, code)) = data.split_first() else {
        return;
    };
    let Ok(code) = std::str::from_utf8(code) else {
        return;
    };
    let mut candidate = 0;
    let parses = |script: &str| {
        candidate += 1;
        match engine {
            b'j' => parses_as_javascript(script),
            mask => mask & (1 << (candidate - 1).min(7)) != 0,
        }
    };
    let Ok(script) = codemode_sandbox::normalise(code, parses) else {
        return;
    };
    let code: Vec<&str> = code.split('\n').collect();
    let script: Vec<&str> = script.split('\n').collect();
    assert!(
        script.len() <= code.len() + 1,
        "the script has lines the code does not"
    );
    let kept = script.len().saturating_sub(2);
    for line in 1..kept {
        assert_eq!(
            script[line].chars().count(),
            code[line].chars().count(),
            "line {} moved",
            line + 1
        );
    }
});

/// Whether oxc parses `script` as a classic script, on a thread with the stack the sandbox gives
/// its own parser (code nests as deep as it is long).
fn parses_as_javascript(script: &str) -> bool {
    let stack = (1 << 20) + script.len() * (4 << 10);
    thread::scope(|scope| {
        thread::Builder::new()
            .stack_size(stack)
            .spawn_scoped(scope, || {
                let allocator = Allocator::default();
                let parsed = Parser::new(&allocator, script, SourceType::script())
                    .with_options(ParseOptions::default())
                    .parse();
                !parsed.panicked && !parsed.diagnostics.has_errors()
            })
            .expect("spawn the parsing thread")
            .join()
            .expect("the parser does not panic")
    })
}

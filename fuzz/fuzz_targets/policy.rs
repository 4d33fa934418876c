//! The policy matcher: any rules document is accepted or refused, any request decided, and the
//! path and name globs agree with a plain dynamic-programming matcher on every input (a path
//! glob's literal text decoded once, as request paths are).
#![no_main]

use std::sync::LazyLock;

use codemode_policy::{Access, Decision, NameGlob, PathGlob, Policy, RequestFacts};
use codemode_spec::{Method, Operation};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

/// The built-in rules alone.
static DEFAULTS: LazyLock<Policy> =
    LazyLock::new(|| Policy::new(Vec::new()).expect("the default rules load"));

/// One request and the globs and rules to try on it, read from NUL-separated fields: the method
/// letter (`G`, `P` POST, `U` PUT, `A` PATCH, `D`) with `r`/`w` for the scopes held, a glob, the
/// concrete path, the operation's template (empty: no operation matched), its `operationId`, its
/// tags (comma-separated), and a rules document in TOML.
struct Input<'a> {
    method: Method,
    access: Access,
    glob: &'a str,
    path: &'a str,
    template: Option<&'a str>,
    operation_id: Option<&'a str>,
    tags: Vec<String>,
    rules: &'a str,
}

impl<'a> Input<'a> {
    fn read(data: &'a [u8]) -> Option<Input<'a>> {
        let text = std::str::from_utf8(data).ok()?;
        let mut fields = text.splitn(7, '\0');
        let mut next = || fields.next().unwrap_or_default();
        let flags = next();
        let method = match flags.chars().next() {
            Some('P') => Method::Post,
            Some('U') => Method::Put,
            Some('A') => Method::Patch,
            Some('D') => Method::Delete,
            _ => Method::Get,
        };
        let access = Access {
            read: flags.contains('r'),
            write: flags.contains('w'),
        };
        let (glob, path) = (next(), next());
        let template = Some(next()).filter(|t| !t.is_empty());
        let operation_id = Some(next()).filter(|id| !id.is_empty());
        let tags = next()
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Some(Input {
            method,
            access,
            glob,
            path,
            template,
            operation_id,
            tags,
            rules: next(),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::read(data) else {
        return;
    };
    if let Ok(glob) = PathGlob::parse(input.glob) {
        assert_eq!(
            glob.matches(input.path),
            path_glob_matches(input.glob, input.path),
            "path glob {:?} on {:?}",
            input.glob,
            input.path
        );
    }
    assert_eq!(
        NameGlob::new(input.glob).matches(input.path),
        name_glob_matches(input.glob, input.path),
        "name glob {:?} on {:?}",
        input.glob,
        input.path
    );

    let (method, access) = (input.method, input.access);
    let operation = input.template.map(|template| Operation {
        method,
        path: template.to_owned(),
        operation_id: input.operation_id.map(str::to_owned),
        tags: input.tags.clone(),
    });
    let facts = match &operation {
        Some(operation) => RequestFacts::for_operation(operation, input.path),
        None => RequestFacts::unmatched(method, input.path),
    };
    let decision = DEFAULTS.decide(&facts, access);
    assert_eq!(
        matches!(decision, Decision::Refused(_)),
        !access.covers(method),
        "scopes decide first: {decision:?}"
    );
    drop(decision.to_string());
    match Policy::from_toml(input.rules) {
        Ok(policy) => drop(policy.decide(&facts, access).to_string()),
        Err(error) => drop(error.to_string()),
    }
});

/// One step of a reference pattern.
#[derive(Clone, Copy, PartialEq)]
enum Step<T> {
    AnyRun,
    One(T),
}

/// Whether `items` match `steps`, where `AnyRun` spans zero or more items: the textbook table
/// of which prefixes of the pattern match which prefixes of the items.
fn table_matches<P, T>(steps: &[Step<P>], items: &[T], one: impl Fn(&P, &T) -> bool) -> bool {
    let mut row = vec![false; items.len() + 1];
    row[0] = true;
    for step in steps {
        let mut next = vec![false; items.len() + 1];
        for i in 0..=items.len() {
            next[i] = match step {
                Step::AnyRun => row[i] || (i > 0 && next[i - 1]),
                Step::One(want) => i > 0 && row[i - 1] && one(want, &items[i - 1]),
            };
        }
        row = next;
    }
    row[items.len()]
}

fn name_glob_matches(glob: &str, name: &str) -> bool {
    let steps: Vec<Step<char>> = glob
        .chars()
        .map(|c| if c == '*' { Step::AnyRun } else { Step::One(c) })
        .collect();
    let chars: Vec<char> = name.chars().collect();
    table_matches(&steps, &chars, |want, got| want == got)
}

fn path_glob_matches(glob: &str, path: &str) -> bool {
    let rest = &glob[1..];
    let steps: Vec<Step<&str>> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/')
            .map(|segment| {
                if segment == "**" {
                    Step::AnyRun
                } else {
                    Step::One(segment)
                }
            })
            .collect()
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    table_matches(&steps, &segments, |want, got| segment_glob_matches(want, got))
}

/// One path-glob segment: `*` spans any run of characters; the text between is percent-decoded
/// once (so `%2A` is a literal `*`) and matches itself.
fn segment_glob_matches(glob: &str, segment: &str) -> bool {
    let mut steps = Vec::new();
    for (i, literal) in glob.split('*').enumerate() {
        if i > 0 {
            steps.push(Step::AnyRun);
        }
        let decoded = percent_decode_str(literal).decode_utf8_lossy();
        steps.extend(decoded.chars().map(Step::One));
    }
    let chars: Vec<char> = segment.chars().collect();
    table_matches(&steps, &chars, |want, got| want == got)
}

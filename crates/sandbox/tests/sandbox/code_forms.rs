//! The shapes of code agents send: functions, bodies, fences, TypeScript, and their errors.

use crate::common::{pool, small_view, value};
use codemode_sandbox::{CancelToken, Pool, SandboxError};
use serde_json::{Value, json};

async fn search(pool: &Pool, code: &str) -> Result<Value, SandboxError> {
    pool.search(code, CancelToken::new()).await.map(value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_form_runs() {
    let pool = pool(small_view(), 1);
    let forms = [
        ("async arrow", "async () => { return spec.info.title; }"),
        ("plain arrow", "() => spec.info.title"),
        ("function", "function () { return spec.info.title; }"),
        (
            "async function",
            "async function find() { return spec.info.title; }",
        ),
        ("expression", "spec.info.title"),
        ("bare body", "const info = spec.info;\nreturn info.title;"),
        (
            "bare body with await",
            "const title = await Promise.resolve(spec.info.title);\nreturn title;",
        ),
        ("trailing semicolon", "async () => spec.info.title;\n"),
        ("fenced", "```js\nasync () => spec.info.title\n```"),
        (
            "fenced bare body",
            "```javascript\nreturn spec.info.title\n```\n",
        ),
    ];
    for (name, code) in forms {
        assert_eq!(search(&pool, code).await, Ok(json!("Small API")), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_runs_with_its_types_stripped() {
    let pool = pool(small_view(), 1);
    let code = "```ts
interface Found { method: string; path: string }
type Paths = Record<string, Record<string, { tags: string[] }>>;
async (): Promise<Found[]> => {
  const paths = spec.paths as Paths;
  const found: Found[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op.tags!.includes('DNS')) found.push({ method, path } satisfies Found);
    }
  }
  return found.map(<T extends Found>(f: T): string => `${f.method} ${f.path}`);
}
```";
    assert_eq!(
        search(&pool, code).await,
        Ok(json!([
            "get /zones/{zone_id}/dns_records",
            "post /zones/{zone_id}/dns_records"
        ]))
    );
    let body = "const ids: string[] = Object.values(spec.paths).flatMap((item: any) => Object.values(item).map((op: any) => op.operationId as string));\nreturn ids.length;";
    assert_eq!(search(&pool, body).await, Ok(json!(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_point_into_the_code_as_sent() {
    let pool = pool(small_view(), 1);
    let error = search(&pool, "async () => {\n  const a = 1;\n  const = 2;\n}").await;
    assert!(
        matches!(
            &error,
            Err(SandboxError::Syntax {
                line: 3,
                column: 9,
                ..
            })
        ),
        "{error:?}"
    );
    let first_line = search(&pool, "async () => { return ) }").await;
    assert!(
        matches!(
            &first_line,
            Err(SandboxError::Syntax {
                line: 1,
                column: 22,
                ..
            })
        ),
        "{first_line:?}"
    );
    let body = search(&pool, "const x = 1;\nreturn x +;").await;
    assert!(
        matches!(
            &body,
            Err(SandboxError::Syntax {
                line: 2,
                column: 11,
                ..
            })
        ),
        "{body:?}"
    );
    let fenced = search(&pool, "```js\nasync () => {\n  retrun 1;\n}\n```").await;
    assert!(
        matches!(
            &fenced,
            Err(SandboxError::Syntax {
                line: 3,
                column: 10,
                ..
            })
        ),
        "{fenced:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_errors_report_the_original_position() {
    let pool = pool(small_view(), 1);
    let broken = search(
        &pool,
        "async (): Promise<number> => {\n  const a: number = ;\n}",
    )
    .await;
    assert!(
        matches!(
            &broken,
            Err(SandboxError::Syntax {
                line: 1,
                column: 9,
                ..
            })
        ),
        "{broken:?}"
    );
    let unsupported = search(&pool, "enum Color { Red }\nreturn Color.Red;").await;
    assert_eq!(
        unsupported,
        Err(SandboxError::Syntax {
            message: "TypeScript enums are not supported here: use a plain object instead".into(),
            line: 1,
            column: 1
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrown_errors_and_values_are_reported() {
    let pool = pool(small_view(), 1);
    let thrown = search(
        &pool,
        "async () => {\n  throw new TypeError('no such path');\n}",
    )
    .await;
    let Err(SandboxError::Thrown { message }) = thrown else {
        panic!("expected a thrown error, got {thrown:?}");
    };
    assert!(
        message.starts_with("Uncaught TypeError: no such path\n"),
        "{message}"
    );
    assert!(message.contains("agent.js:2:"), "{message}");
    let rejected = search(&pool, "async () => Promise.reject(new RangeError('late'))").await;
    assert!(
        matches!(&rejected, Err(SandboxError::Thrown { message }) if message.starts_with("Uncaught RangeError: late"))
    );
    let value = search(&pool, "async () => { throw { code: 7 }; }").await;
    assert_eq!(
        value,
        Err(SandboxError::Thrown {
            message: "Uncaught {\"code\":7}".into()
        })
    );
    let text = search(&pool, "() => { throw 'plain'; }").await;
    assert_eq!(
        text,
        Err(SandboxError::Thrown {
            message: "Uncaught \"plain\"".into()
        })
    );
    let first_line = search(&pool, "async () => { throw new Error('here') }").await;
    assert!(
        matches!(&first_line, Err(SandboxError::Thrown { message }) if message.contains("agent.js:1:25")),
        "{first_line:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_match_json_stringify_under_the_cap() {
    let pool = pool(small_view(), 1);
    let cases = [
        "undefined",
        "null",
        "[1, 'two', { three: [true, null] }]",
        "({ a: undefined, b: () => 1, c: new Date(0), d: [undefined, NaN, -0] })",
        "({ nested: { deeper: { deepest: 'é\\u2028\"' } } })",
        "new Map([[1, 2]])",
        // More members than the character cap, none of which JSON keeps: still `{}`.
        "Object.fromEntries(Array.from({ length: 30000 }, (_, i) => ['f' + i, () => i]))",
    ];
    for case in cases {
        let code = format!(
            "async () => {{ const value = {case}; return [value, JSON.stringify(value === undefined ? null : value)]; }}"
        );
        let result = search(&pool, &code).await.expect("the code runs");
        let stringified: Value =
            serde_json::from_str(result[1].as_str().expect("a string")).expect("JSON");
        assert_eq!(result[0], stringified, "{case}");
    }
    let odd = search(
        &pool,
        "async () => { const a = { n: 12345678901234567890n }; a.self = a; return a; }",
    )
    .await;
    assert_eq!(
        odd,
        Ok(json!({ "n": "12345678901234567890", "self": "[Circular]" }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_results_are_cut_structurally() {
    let pool = pool(small_view(), 1);
    let outcome = pool
        .search(
            "async () => ({ total: 5000, items: Array.from({ length: 5000 }, (_, i) => ({ id: i, name: 'item ' + i })), note: 'n'.repeat(50000) })",
            CancelToken::new(),
        )
        .await
        .expect("the code runs");
    let truncation = outcome.truncation.expect("the result is cut");
    let json = outcome.result.as_str();
    assert!(
        json.chars().count() <= 24_000,
        "{} chars",
        json.chars().count()
    );
    let result = outcome.result.to_value().expect("the result is JSON");
    assert_eq!(result["total"], json!(5000));
    let items = result["items"].as_array().expect("items stay an array");
    assert_eq!(items[0], json!({ "id": 0, "name": "item 0" }));
    let marker = items
        .last()
        .and_then(Value::as_str)
        .expect("a final marker");
    assert!(
        marker.starts_with("… ") && marker.ends_with(" more items"),
        "{marker}"
    );
    let note = result["note"].as_str().expect("the note stays a string");
    assert!(
        note.ends_with(" more chars)"),
        "{}",
        &note[note.len() - 40..]
    );
    assert!(truncation.omitted_items > 0 && truncation.omitted_chars > 0);
    assert!(!truncation.full_is_lower_bound);
    assert!(truncation.full_chars > 150_000);
    assert!(
        truncation
            .to_string()
            .starts_with("Result truncated: showing ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_code_is_a_syntax_error_not_a_crash() {
    let pool = pool(small_view(), 1);
    // The annotations make QuickJS fail at once, so oxc parses the whole depth.
    let deep = [
        "[".repeat(60_000),
        format!(
            "let a: number = {}1{}",
            "[".repeat(30_000),
            "]".repeat(30_000)
        ),
        format!(
            "let a: number = {}1{}",
            "(".repeat(30_000),
            ")".repeat(30_000)
        ),
        format!(
            "let a: {}number{} = 1",
            "Array<".repeat(9_000),
            ">".repeat(9_000)
        ),
        format!("let a: number = {}1", "!".repeat(60_000)),
        format!("let a: number = 1{}", "+1".repeat(30_000)),
        format!("let a: number = {}1", "x=>".repeat(20_000)),
    ];
    for code in deep {
        let outcome = search(&pool, &code).await;
        assert!(
            matches!(
                outcome,
                Ok(_) | Err(SandboxError::Syntax { .. } | SandboxError::StackOverflow)
            ),
            "{:?}",
            outcome.map(|_| ())
        );
    }
    assert_eq!(search(&pool, "async () => 1").await, Ok(json!(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_the_text_json_stringify_wrote() {
    let pool = pool(small_view(), 1);
    let cases = [
        // A lone surrogate is a valid JS string and JSON escape, though not a Rust string.
        (r#""a\ud800b""#, r#""a\ud800b""#),
        (
            "({ b: 1, a: [2, 1e21, -0, 0.1] })",
            r#"{"b":1,"a":[2,1e+21,0,0.1]}"#,
        ),
        (
            "({ k: '\\udfff', ok: '\\ud83d\\ude00' })",
            r#"{"k":"\udfff","ok":"😀"}"#,
        ),
    ];
    for (code, expected) in cases {
        let outcome = pool
            .search(&format!("async () => {code}"), CancelToken::new())
            .await
            .unwrap_or_else(|error| panic!("{code} failed: {error}"));
        assert_eq!(outcome.result.as_str(), expected, "{code}");
    }
}

//! `codemode spec` reports on a spec, and explains a broken one.

use crate::support::{cloudflare_spec, codemode};

#[test]
fn reports_the_cloudflare_spec() {
    let output = codemode()
        .args(["spec", "--spec"])
        .arg(cloudflare_spec())
        .output()
        .expect("codemode runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in ["1533", "965", "11808", "load time"] {
        assert!(
            stdout.replace(',', "").contains(expected),
            "`{expected}` missing from:\n{stdout}"
        );
    }
}

#[test]
fn explains_a_broken_spec_and_where_it_breaks() {
    let dir = std::env::temp_dir().join(format!("codemode-spec-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases = [
        (
            "bad.json",
            "{\"openapi\": \"3.0.3\",\n \"paths\": {,}}",
            "line 2",
        ),
        (
            "swagger.json",
            "{\"swagger\": \"2.0\", \"paths\": {}}",
            "2.0",
        ),
        (
            "dangling.yaml",
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n",
            "#/components/responses/Nope",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write spec");
        let output = codemode()
            .args(["spec", "--spec"])
            .arg(&path)
            .output()
            .expect("codemode runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name} should be refused");
        assert!(
            stderr.contains(expected),
            "{name}: `{expected}` missing from:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn reports_the_demo_spec_offline() {
    let output = codemode()
        .args(["spec", "--demo"])
        .output()
        .expect("codemode runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

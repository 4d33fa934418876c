//! The operator commands: `codemode audit`, `codemode credentials` and `codemode keys`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use codemode::settings::CREDENTIALS_KEY_ENV as KEY_ENV;
use codemode_audit::{
    AuditLog, CallRecord, Outcome, RequestDecision, Timestamp, Tool, UpstreamRequest,
};
use codemode_credentials::{CredentialStore, ServerKey};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::codemode;

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

/// What one run of the binary printed, and whether it succeeded.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `codemode args` with `stdin` piped in and `key` (if any) as the credentials key.
fn run(args: &[&str], key: Option<&str>, stdin: &str) -> Run {
    let mut command = codemode();
    command
        .args(args)
        .env_remove(KEY_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        command.env(KEY_ENV, key);
    }
    let mut child = command.spawn().expect("codemode starts");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("codemode exits");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `codemode args` and fails the test, showing its output, unless it succeeds.
fn run_ok(args: &[&str], key: Option<&str>, stdin: &str) -> Run {
    let run = run(args, key, stdin);
    assert!(run.ok, "{args:?} failed:\n{}{}", run.stdout, run.stderr);
    run
}

/// Runs `codemode args` and fails the test unless it fails.
fn run_err(args: &[&str], key: Option<&str>, stdin: &str) -> Run {
    let run = run(args, key, stdin);
    assert!(
        !run.ok,
        "{args:?} should fail:\n{}{}",
        run.stdout, run.stderr
    );
    run
}

/// A temporary directory with a config file whose `data_dir` is `<dir>/data`.
struct Workspace {
    dir: TempDir,
    config: String,
}

impl Workspace {
    /// A workspace whose config file also holds `extra`.
    fn new(extra: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("codemode.toml");
        let data_dir = dir.path().join("data");
        std::fs::write(
            &config,
            format!("data_dir = {:?}\n{extra}", data_dir.display().to_string()),
        )
        .expect("write config");
        Workspace {
            config: config.display().to_string(),
            dir,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The audit log where the config says, with `records` appended in order.
    fn audit_log(&self, records: &[CallRecord]) -> PathBuf {
        std::fs::create_dir_all(self.data_dir()).expect("data dir");
        let path = self.data_dir().join("audit.db");
        let log = AuditLog::open(&path).expect("open audit log");
        for record in records {
            log.append(record).expect("append");
        }
        path
    }
}

/// A successful call record by `subject` at `time`, which made `requests` upstream requests.
fn record(subject: &str, time: Timestamp, tool: Tool, requests: usize) -> CallRecord {
    let request = UpstreamRequest {
        method: "GET".into(),
        template: Some("/zones".into()),
        path: "/zones".into(),
        status: Some(200),
        duration_ms: 40,
        attempts: Some(1),
        decision: RequestDecision::Allow,
        intent: None,
        no_answer: None,
        upstream: None,
    };
    CallRecord {
        time,
        subject: subject.into(),
        session: None,
        client: Some("tests".into()),
        tool,
        code_sha256: "0".repeat(64),
        code: Some("async () => 1".into()),
        code_chars: None,
        account: None,
        requests: vec![request; requests],
        approvals: Vec::new(),
        outcome: Outcome::Ok,
        error_kind: None,
        duration_ms: 120,
        result_chars: 1,
    }
}

/// The instant `age` before now.
fn ago(age: Duration) -> Timestamp {
    Timestamp::now().saturating_sub(age)
}

/// Every file directly in `dir`, as raw bytes.
fn raw_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            let path = entry.expect("dir entry").path();
            let bytes = std::fs::read(&path).expect("read file");
            (path, bytes)
        })
        .collect()
}

#[test]
fn credentials_round_trip_and_the_token_never_shows() {
    let workspace = Workspace::new("");
    let config = workspace.config.as_str();
    let keygen = run_ok(&["credentials", "keygen"], None, "");
    let key_hex = keygen.stdout.trim();
    assert_eq!(key_hex.len(), 64, "{}", keygen.stdout);
    assert!(key_hex.bytes().all(|b| b.is_ascii_hexdigit()), "{key_hex}");
    assert!(keygen.stderr.contains(KEY_ENV), "{}", keygen.stderr);
    let key = Some(key_hex);

    let mut runs = vec![
        run_ok(
            &[
                "credentials",
                "set",
                "--subject",
                "alice",
                "--config",
                config,
            ],
            key,
            "tok-alice-SECRET-1\n",
        ),
        run_ok(
            &["credentials", "--config", config, "set", "--subject", "bob"],
            key,
            "tok-bob-SECRET-2",
        ),
    ];
    assert!(runs[0].stderr.contains("alice"), "{}", runs[0].stderr);
    let list = run_ok(&["credentials", "list", "--config", config], key, "");
    assert_eq!(list.stdout, "alice\nbob\n");
    runs.push(list);

    let store_path = workspace.data_dir().join("credentials.db");
    let server_key = ServerKey::parse(key_hex).expect("key parses");
    let store = CredentialStore::open(&store_path, &server_key).expect("store opens");
    let alice = store.get("alice").expect("get").expect("alice stored");
    assert_eq!(alice.expose(), "tok-alice-SECRET-1");

    runs.push(run_ok(
        &[
            "credentials",
            "set",
            "--subject",
            "alice",
            "--config",
            config,
        ],
        key,
        "tok-alice-SECRET-3\r\n",
    ));
    let alice = store.get("alice").expect("get").expect("alice stored");
    assert_eq!(alice.expose(), "tok-alice-SECRET-3");

    runs.push(run_ok(
        &[
            "credentials",
            "remove",
            "--subject",
            "alice",
            "--config",
            config,
        ],
        key,
        "",
    ));
    let list = run_ok(&["credentials", "list", "--config", config], key, "");
    assert_eq!(list.stdout, "bob\n");
    runs.push(list);
    let again = run_err(
        &[
            "credentials",
            "remove",
            "--subject",
            "alice",
            "--config",
            config,
        ],
        key,
        "",
    );
    assert!(
        again.stderr.contains("no token is stored for alice"),
        "{}",
        again.stderr
    );
    runs.push(again);

    for run in &runs {
        assert!(!run.stdout.contains("SECRET"), "{}", run.stdout);
        assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    }
    for (path, bytes) in raw_files(&workspace.data_dir()) {
        let found = bytes.windows(b"SECRET".len()).any(|w| w == b"SECRET");
        assert!(!found, "a token is readable in {}", path.display());
    }
}

#[test]
fn credentials_need_the_key_they_were_stored_with() {
    let workspace = Workspace::new("");
    let store = workspace.dir.path().join("tokens.db");
    let store = store.to_str().expect("utf-8 path");
    let first = "11".repeat(32);
    let second = "22".repeat(32);
    let set = ["credentials", "set", "--subject", "alice", "--store", store];
    run_ok(&set, Some(&first), "tok-SECRET\n");

    let list = ["credentials", "list", "--store", store];
    let wrong = run_err(&list, Some(&second), "");
    assert!(wrong.stderr.contains("different key"), "{}", wrong.stderr);
    let wrong = run_err(&set, Some(&second), "tok-SECRET\n");
    assert!(wrong.stderr.contains("different key"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains("SECRET"), "{}", wrong.stderr);

    let missing = run_err(&list, None, "");
    assert!(
        missing.stderr.contains(&format!("export {KEY_ENV}="))
            && missing.stderr.contains("codemode credentials keygen"),
        "{}",
        missing.stderr
    );
    let malformed = run_err(&list, Some("abc"), "");
    assert!(
        malformed.stderr.contains("64 hex characters"),
        "{}",
        malformed.stderr
    );

    let elsewhere = workspace.dir.path().join("elsewhere.db");
    let elsewhere_arg = elsewhere.to_str().expect("utf-8 path");
    let absent = run_err(
        &["credentials", "list", "--store", elsewhere_arg],
        Some(&first),
        "",
    );
    assert!(
        absent.stderr.contains("no credential store"),
        "{}",
        absent.stderr
    );
    assert!(!elsewhere.exists(), "listing must not create a store");
}

#[test]
fn credentials_set_refuses_an_empty_or_multiline_token() {
    let workspace = Workspace::new("");
    let key = "33".repeat(32);
    let args = [
        "credentials",
        "set",
        "--subject",
        "alice",
        "--config",
        &workspace.config,
    ];
    for (stdin, expected) in [
        ("", "empty"),
        ("\n", "empty"),
        ("one\ntwo\n", "more than one line"),
    ] {
        let refused = run_err(&args, Some(&key), stdin);
        assert!(
            refused.stderr.contains(expected),
            "{stdin:?}: {}",
            refused.stderr
        );
    }
    assert!(
        !workspace.data_dir().exists(),
        "a refused token must not create the store"
    );
}

#[test]
fn keys_hash_prints_the_sha256_of_stdin() {
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n";
    assert_eq!(run_ok(&["keys", "hash"], None, "abc\n").stdout, abc);
    assert_eq!(run_ok(&["keys", "hash"], None, "abc\r\n").stdout, abc);
    assert_eq!(run_ok(&["keys", "hash"], None, "abc").stdout, abc);
    let spaced = run_ok(&["keys", "hash"], None, "abc \n");
    assert_ne!(spaced.stdout, abc, "only the newline is trimmed");

    let key = "cm_live_SECRET_key";
    let hashed = run_ok(&["keys", "hash"], None, &format!("{key}\n"));
    assert_eq!(hashed.stdout, format!("{}\n", codemode_auth::hash_key(key)));
    assert!(!hashed.stderr.contains("SECRET"), "{}", hashed.stderr);

    let empty = run_err(&["keys", "hash"], None, "\n");
    assert!(empty.stderr.contains("empty"), "{}", empty.stderr);
}

#[test]
fn audit_verify_reports_an_intact_log_and_its_head() {
    let workspace = Workspace::new("");
    let config = workspace.config.as_str();
    workspace.audit_log(&[]);
    let empty = run_ok(&["audit", "verify", "--config", config], None, "");
    assert_eq!(empty.stdout, "audit log intact: 0 records\n");

    let path = workspace.audit_log(&[
        record("alice", ago(HOUR), Tool::Search, 0),
        record("bob", ago(HOUR), Tool::Execute, 2),
    ]);
    let head = AuditLog::open(&path)
        .expect("open")
        .verify()
        .expect("verify")
        .head;
    let path_arg = path.to_str().expect("utf-8");
    let intact = run_ok(&["audit", "verify", "--audit", path_arg], None, "");
    assert_eq!(
        intact.stdout,
        format!(
            "audit log intact: 2 records\nhead: row 2 hash {}\n",
            head.hash
        )
    );

    let missing = workspace.dir.path().join("missing.db");
    let absent = run_err(
        &[
            "audit",
            "verify",
            "--audit",
            missing.to_str().expect("utf-8"),
        ],
        None,
        "",
    );
    assert!(
        absent.stderr.contains("no audit log at"),
        "{}",
        absent.stderr
    );
    assert!(!missing.exists(), "verify must not create a log");
}

#[test]
fn audit_verify_names_the_edited_or_deleted_row() {
    let workspace = Workspace::new("");
    let path = workspace.audit_log(&[
        record("alice", ago(HOUR), Tool::Search, 0),
        record("bob", ago(HOUR), Tool::Execute, 1),
        record("carol", ago(HOUR), Tool::Execute, 1),
    ]);
    let path_arg = path.to_str().expect("utf-8");
    run_ok(&["audit", "verify", "--audit", path_arg], None, "");

    let database = rusqlite::Connection::open(&path).expect("open sqlite");
    database
        .execute(
            "UPDATE audit_calls SET subject = 'mallory' WHERE id = 2",
            [],
        )
        .expect("tamper");
    let edited = run_err(&["audit", "verify", "--audit", path_arg], None, "");
    assert!(edited.stdout.is_empty(), "{}", edited.stdout);
    assert!(
        edited
            .stderr
            .contains("audit log broken: row 2 does not match its hash: it was edited"),
        "{}",
        edited.stderr
    );
    assert!(
        edited.stderr.contains("1 record before it verified"),
        "{}",
        edited.stderr
    );

    database
        .execute("DELETE FROM audit_calls WHERE id = 2", [])
        .expect("delete");
    let deleted = run_err(&["audit", "verify", "--audit", path_arg], None, "");
    assert!(
        deleted
            .stderr
            .contains("row 3 follows where row 2 was expected"),
        "{}",
        deleted.stderr
    );
}

#[test]
fn audit_tail_shows_the_newest_records_as_a_table_or_json() {
    let workspace = Workspace::new("");
    let mut failed = record("bob", ago(HOUR), Tool::Execute, 2);
    failed.requests[1].attempts = Some(3);
    failed.outcome = Outcome::Error;
    failed.error_kind = Some("timeout".into());
    failed.duration_ms = 30_001;
    let mut from_before_attempts = record("eve\u{1b}[2J", ago(HOUR), Tool::Execute, 1);
    from_before_attempts.requests[0].attempts = None;
    workspace.audit_log(&[
        record("alice", ago(HOUR), Tool::Search, 0),
        failed,
        from_before_attempts,
    ]);
    let config = workspace.config.as_str();

    let table = run_ok(&["audit", "tail", "-n", "2", "--config", config], None, "");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    let columns: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "ID", "TIME", "SUBJECT", "TOOL", "OUTCOME", "REQUESTS", "ATTEMPTS", "DURATION"
        ]
    );
    let bob: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(bob[0], "2");
    assert!(bob[1].parse::<Timestamp>().is_ok(), "{}", lines[1]);
    assert_eq!(
        bob[2..],
        [
            "bob", "execute", "error:", "timeout", "2", "4", "30001", "ms"
        ]
    );
    assert!(lines[2].contains("eve\\u{1b}[2J"), "{}", lines[2]);
    let eve: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(eve[5..7], ["1", "-"], "{}", lines[2]);
    assert!(
        !table.stdout.contains('\u{1b}'),
        "control characters are escaped"
    );
    assert!(!table.stdout.contains("alice"), "{}", table.stdout);

    let json = run_ok(&["audit", "tail", "--json", "--config", config], None, "");
    let records: Vec<Value> = json
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let ids: Vec<&Value> = records.iter().map(|record| &record["id"]).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(records[1]["subject"], "bob");
    assert_eq!(records[1]["error_kind"], "timeout");
    assert_eq!(records[1]["requests"].as_array().map(Vec::len), Some(2));
    assert_eq!(records[1]["requests"][1]["attempts"], 3);
}

#[test]
fn audit_export_writes_json_lines_since_a_cutoff() {
    let workspace = Workspace::new("");
    let path = workspace.audit_log(&[
        record("old", ago(10 * DAY), Tool::Search, 0),
        record("recent", ago(HOUR), Tool::Execute, 1),
    ]);
    let path_arg = path.to_str().expect("utf-8");
    let subjects = |jsonl: &str| -> Vec<String> {
        jsonl
            .lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line).expect("a JSON line");
                record["subject"].as_str().expect("subject").to_string()
            })
            .collect()
    };

    let everything = run_ok(&["audit", "export", "--audit", path_arg], None, "");
    assert_eq!(subjects(&everything.stdout), ["old", "recent"]);
    assert!(
        everything.stderr.contains("exported 2 records to stdout"),
        "{}",
        everything.stderr
    );
    let day = run_ok(
        &[
            "audit", "export", "--since", "24h", "--format", "jsonl", "--audit", path_arg,
        ],
        None,
        "",
    );
    assert_eq!(subjects(&day.stdout), ["recent"]);
    let since = ago(20 * DAY).to_string();
    let absolute = run_ok(
        &["audit", "export", "--since", &since, "--audit", path_arg],
        None,
        "",
    );
    assert_eq!(subjects(&absolute.stdout), ["old", "recent"]);

    let file = workspace.dir.path().join("export.jsonl");
    let file_arg = file.to_str().expect("utf-8");
    let to_file = run_ok(
        &[
            "audit", "export", "--since", "7d", "-o", file_arg, "--audit", path_arg,
        ],
        None,
        "",
    );
    assert!(to_file.stdout.is_empty(), "{}", to_file.stdout);
    assert!(
        to_file.stderr.contains("exported 1 record to"),
        "{}",
        to_file.stderr
    );
    let written = std::fs::read_to_string(&file).expect("export file");
    assert_eq!(subjects(&written), ["recent"]);
    let line: Value = serde_json::from_str(written.trim()).expect("JSON");
    assert_eq!(line["id"], 2);
    assert_eq!(line["hash"].as_str().map(str::len), Some(64));

    let bad = run_err(
        &["audit", "export", "--since", "7x", "--audit", path_arg],
        None,
        "",
    );
    assert!(bad.stderr.contains("24h"), "{}", bad.stderr);
}

#[test]
fn audit_prune_deletes_old_records_and_the_rest_still_verify() {
    let workspace = Workspace::new("[audit]\nretention_days = 7\n");
    workspace.audit_log(&[
        record("old", ago(10 * DAY), Tool::Search, 0),
        record("two-days-old", ago(2 * DAY), Tool::Search, 0),
        record("recent", ago(HOUR), Tool::Execute, 1),
    ]);
    let config = workspace.config.as_str();

    let by_retention = run_ok(&["audit", "prune", "--config", config], None, "");
    assert!(
        by_retention
            .stdout
            .starts_with("pruned 1 record from before"),
        "{}",
        by_retention.stdout
    );
    let by_flag = run_ok(
        &["audit", "prune", "--older-than", "1d", "--config", config],
        None,
        "",
    );
    assert!(
        by_flag.stdout.starts_with("pruned 1 record from before"),
        "{}",
        by_flag.stdout
    );
    let verified = run_ok(&["audit", "verify", "--config", config], None, "");
    assert!(
        verified.stdout.starts_with(
            "audit log intact: 1 record\nanchor: row 2 (older rows were pruned)\nhead: row 3 hash "
        ),
        "{}",
        verified.stdout
    );

    let unconfigured = Workspace::new("");
    unconfigured.audit_log(&[record("old", ago(10 * DAY), Tool::Search, 0)]);
    let refused = run_err(
        &["audit", "prune", "--config", &unconfigured.config],
        None,
        "",
    );
    assert!(
        refused.stderr.contains("retention_days"),
        "{}",
        refused.stderr
    );
}

//! Shared helpers: the built binary, the shared Cloudflare spec, and a raw stdio MCP session.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

/// The shared Cloudflare spec; tests fail (not skip) when it is missing.
pub fn cloudflare_spec() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/cloudflare-openapi-2024-08.json");
    assert!(
        path.exists(),
        "the shared Cloudflare spec is missing at {}",
        path.display()
    );
    path
}

/// The `codemode` binary under test.
pub fn codemode() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_codemode"));
    command.env_remove("CLOUDFLARE_API_TOKEN");
    command
}

/// A `codemode stdio` child spoken to in raw JSON-RPC lines.
pub struct StdioSession {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl StdioSession {
    /// Starts `codemode stdio` with `args` and completes the MCP handshake.
    pub fn start(args: &[&str]) -> StdioSession {
        let mut child = codemode()
            .arg("stdio")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("codemode starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut session = StdioSession {
            child,
            stdin,
            stdout,
            next_id: 1,
        };
        session.request(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "codemode-tests", "version": "1"}
            }),
        );
        session.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        session
    }

    /// Sends a request and returns its `result`, panicking on a JSON-RPC error.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            let read = self.stdout.read_line(&mut line).expect("read stdout");
            assert!(read > 0, "codemode closed stdout");
            let message: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "JSON-RPC error: {message}");
                return message["result"].clone();
            }
        }
    }

    fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").expect("write stdin");
        self.stdin.flush().expect("flush stdin");
    }
}

impl Drop for StdioSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

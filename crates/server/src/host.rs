//! What `execute` code may reach: the gateway's `request`, account lookup and console capture.

use std::sync::{Arc, Mutex, PoisonError};

use codemode_sandbox::{Host, LogLine};
use codemode_upstream::{AccountResolver, Call, RequestError};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::live::Update;

/// The sandbox host for one `execute` call.
pub struct ExecuteHost {
    call: Call,
    accounts: Arc<AccountResolver>,
    explicit_account: Option<String>,
    configured_account: Option<String>,
    logs: Mutex<Vec<LogLine>>,
    updates: UnboundedSender<Update>,
}

impl ExecuteHost {
    /// A host whose requests share `call`'s budget and whose progress goes to `updates`.
    pub fn new(
        call: Call,
        accounts: Arc<AccountResolver>,
        explicit_account: Option<String>,
        configured_account: Option<String>,
        updates: UnboundedSender<Update>,
    ) -> Self {
        Self {
            call,
            accounts,
            explicit_account,
            configured_account,
            logs: Mutex::new(Vec::new()),
            updates,
        }
    }

    /// Every console line the code wrote, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Host for ExecuteHost {
    fn request(&self, options: Value) -> BoxFuture<'static, Result<Value, String>> {
        let call = self.call.clone();
        let updates = self.updates.clone();
        async move {
            let outcome = call.request(&options).await;
            let _ = updates.send(Update::Request(describe(&options, &outcome)));
            outcome.map_err(|e| e.to_string())
        }
        .boxed()
    }

    fn account_id(&self) -> BoxFuture<'static, Result<String, String>> {
        let accounts = self.accounts.clone();
        let call = self.call.clone();
        let explicit = self.explicit_account.clone();
        let configured = self.configured_account.clone();
        async move {
            accounts
                .resolve(explicit.as_deref(), configured.as_deref(), &call)
                .await
                .map_err(|e| e.to_string())
        }
        .boxed()
    }

    fn log(&self, line: &LogLine) {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line.clone());
        let _ = self.updates.send(Update::Log(line.clone()));
    }
}

/// One line about a finished request, e.g. `GET /zones → 200`.
fn describe(options: &Value, outcome: &Result<Value, RequestError>) -> String {
    let method = options["method"]
        .as_str()
        .unwrap_or("?")
        .to_ascii_uppercase();
    let path = options["path"].as_str().unwrap_or("?");
    match outcome {
        Ok(envelope) => format!("{method} {path} → {}", envelope["status"]),
        Err(_) => format!("{method} {path} → failed"),
    }
}

//! The governed call on its own, with no network and no client: the demo API in memory, the
//! audit log in a temporary directory, and the runner called the way a transport calls it.

use std::sync::Arc;

use codemode::call::approval::{Answer, Question};
use codemode::call::credential::Credentials;
use codemode::call::{CallError, CallOutcome, Caller, ExecuteRequest, Returned, Runner};
use codemode::settings::{Options, Secrets, Settings};
use codemode_audit::{
    ApprovalStatus, ApprovalStore, AuditLog, Decision, RequestDecision, StoredRecord, Timestamp,
};
use codemode_auth::{Principal, Scopes};
use codemode_credentials::{CredentialStore, ServerKey};
use codemode_sandbox::CancelToken;
use codemode_upstream::Credential;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc;

/// Lists the zones, then deletes the first DNS record of the first zone: a request the default
/// policy holds for a person's approval.
const DELETE_A_RECORD: &str = r#"async () => {
  const zones = await cloudflare.request({method: "GET", path: "/zones"});
  const zone = zones.result[0].id;
  const records = await cloudflare.request({method: "GET", path: `/zones/${zone}/dns_records`});
  const record = records.result[0].id;
  const deleted = await cloudflare.request({
    method: "DELETE", path: `/zones/${zone}/dns_records/${record}`});
  return deleted.success;
}"#;

/// A runner on the demo API with `extra` TOML settings, its data in a temporary directory.
async fn runner(extra: &str) -> (TempDir, Arc<Runner>) {
    let data = TempDir::new().expect("a temporary directory");
    let text = format!(
        "demo = true\ndata_dir = {:?}\n{extra}\n[sandbox]\nworkers = 1\n",
        data.path().display().to_string()
    );
    let options: Options = toml::from_str(&text).expect("valid settings");
    let settings = Settings::resolve(options).expect("settings resolve");
    let runner = Runner::start(&settings, Secrets::default())
        .await
        .expect("the runner starts");
    (data, runner)
}

fn caller(subject: &str, scopes: &[&str]) -> Caller {
    Caller {
        principal: Principal {
            subject: subject.into(),
            scopes: Scopes::from_names(scopes.iter().copied()).expect("known scopes"),
            may_forward: false,
            client: None,
        },
        session: Some("session-1".into()),
        client: Some("tests".into()),
        forwarded: None,
        forwarded_to: Vec::new(),
    }
}

fn local() -> Caller {
    Caller {
        principal: Principal::local(),
        ..caller("local", &[])
    }
}

async fn execute(runner: &Runner, caller: Caller, code: &str) -> CallOutcome {
    execute_with(runner, caller, code, None, None).await
}

async fn execute_with(
    runner: &Runner,
    caller: Caller,
    code: &str,
    approval_id: Option<String>,
    asks: Option<mpsc::Sender<Question>>,
) -> CallOutcome {
    let (updates, _) = mpsc::unbounded_channel();
    runner
        .execute(ExecuteRequest {
            caller,
            code: code.into(),
            account_id: None,
            approval_id,
            asks,
            updates,
            cancel: CancelToken::new(),
            recording: None,
        })
        .await
}

fn value(outcome: &CallOutcome) -> Value {
    match &outcome.result {
        Ok(Returned::Value { value, .. }) => value.to_value().expect("the result is JSON"),
        other => panic!("expected a value, got {other:?}"),
    }
}

fn error(outcome: &CallOutcome) -> &CallError {
    outcome.result.as_ref().expect_err("a failed call")
}

fn records(data: &TempDir) -> Vec<StoredRecord> {
    let log = AuditLog::open(data.path().join("audit.db")).expect("the audit log opens");
    let mut records = log.tail(100).expect("records read");
    records.sort_by_key(|stored| stored.id);
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_is_answered_and_audited_with_its_caller_and_code() {
    let (data, runner) = runner("").await;
    let code = "async () => Object.keys(spec.paths).length";
    let outcome = runner
        .search(&caller("alice", &["search"]), code, CancelToken::new())
        .await;
    assert!(value(&outcome).as_u64().is_some_and(|paths| paths > 5));
    let records = records(&data);
    assert_eq!(records.len(), 1);
    let record = &records[0].record;
    assert_eq!(record.subject, "alice");
    assert_eq!(record.session.as_deref(), Some("session-1"));
    assert_eq!(record.code.as_deref(), Some(code));
    assert_eq!(record.error_kind, None);
    assert_eq!(record.result_chars, outcome.chars());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_without_the_tool_scope_is_refused_before_anything_runs() {
    let (data, runner) = runner("").await;
    let outcome = execute(&runner, caller("reader", &["search"]), "async () => 1").await;
    assert!(matches!(
        error(&outcome),
        CallError::Scope {
            tool: "execute",
            ..
        }
    ));
    let outcome = runner
        .search(
            &caller("doer", &["execute:read"]),
            "async () => 1",
            CancelToken::new(),
        )
        .await;
    assert_eq!(error(&outcome).kind(), "arguments");
    assert!(records(&data).is_empty(), "refused calls never started");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_is_decided_by_policy_and_recorded_with_its_decision() {
    let rules = r#"
[[policy.rules]]
name = "no-zone-reads"
method = ["GET"]
path = "/zones/*"
action = "deny"
"#;
    let (data, runner) = runner(rules).await;
    let code = r#"async () => {
      const zones = await cloudflare.request({method: "GET", path: "/zones"});
      try {
        await cloudflare.request({method: "GET", path: `/zones/${zones.result[0].id}`});
        return "sent";
      } catch (e) { return e.message; }
    }"#;
    let outcome = execute(&runner, local(), code).await;
    let message = value(&outcome);
    let message = message.as_str().expect("the caught message");
    assert!(
        message.contains("denied by policy rule \"no-zone-reads\""),
        "{message}"
    );
    let requests = &records(&data)[0].record.requests;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].decision, RequestDecision::Allow);
    assert_eq!(requests[0].status, Some(200));
    assert_eq!(requests[0].template.as_deref(), Some("/zones"));
    assert_eq!(
        requests[1].decision,
        RequestDecision::Deny {
            rule: "no-zone-reads".into()
        }
    );
    assert_eq!(requests[1].status, None, "a denied request is never sent");
    let attempts: Vec<Option<u32>> = requests.iter().map(|r| r.attempts).collect();
    assert_eq!(attempts, [Some(1), Some(0)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_caller_cannot_write_whatever_its_code_tries() {
    let (data, runner) = runner("").await;
    let code = r#"async () => cloudflare.request({method: "POST", path: "/zones", body: {name: "x.com"}})"#;
    let outcome = execute(&runner, caller("reader", &["execute:read"]), code).await;
    assert_eq!(error(&outcome).kind(), "thrown");
    let requests = &records(&data)[0].record.requests;
    assert_eq!(
        requests[0].decision,
        RequestDecision::Deny {
            rule: "scopes".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_request_stops_the_call_until_another_person_approves_it_once() {
    let (data, runner) = runner("").await;
    let agent = || caller("agent", &["execute:read", "execute:write"]);
    let held = execute(&runner, agent(), DELETE_A_RECORD).await;
    let Ok(Returned::ApprovalRequired(body)) = &held.result else {
        panic!("expected an approval, got {:?}", held.result);
    };
    let id = body["approval_required"]["approval_id"]
        .as_str()
        .expect("an approval id")
        .to_string();
    assert_eq!(body["approval_required"]["pending"][0]["method"], "DELETE");
    let store = ApprovalStore::open(data.path().join("audit.db")).expect("approvals open");
    assert_eq!(
        store.get(&id).expect("stored").status,
        ApprovalStatus::Pending
    );

    let unapproved = execute_with(&runner, agent(), DELETE_A_RECORD, Some(id.clone()), None).await;
    assert!(
        matches!(unapproved.result, Ok(Returned::ApprovalRequired(_))),
        "a pending approval lets nothing through"
    );
    let self_approval = store.decide(&id, "agent", Decision::Approve, Timestamp::now());
    assert!(self_approval.is_err(), "the agent cannot approve itself");
    store
        .decide(&id, "operator", Decision::Approve, Timestamp::now())
        .expect("a person approves");

    let approved = execute_with(&runner, agent(), DELETE_A_RECORD, Some(id.clone()), None).await;
    assert_eq!(value(&approved), json!(true));
    let again = execute_with(&runner, agent(), DELETE_A_RECORD, Some(id.clone()), None).await;
    assert!(
        !matches!(again.result, Ok(Returned::Value { .. })),
        "an approval is used once"
    );

    let records = records(&data);
    assert_eq!(
        records[0].record.error_kind.as_deref(),
        Some("approval_required")
    );
    assert_eq!(
        records[0].record.approvals[0].status,
        ApprovalStatus::Pending
    );
    let delete = records[2]
        .record
        .requests
        .iter()
        .find(|request| request.method == "DELETE")
        .expect("the delete is recorded");
    assert!(matches!(
        &delete.decision,
        RequestDecision::Approved { by, .. } if by == "operator"
    ));
    assert_eq!(delete.status, Some(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_asked_through_the_client_decides_and_the_code_carries_on() {
    let (data, runner) = runner("").await;
    for (answer, expected) in [
        (Answer::Accept, json!(true)),
        (Answer::Decline, json!("declined")),
    ] {
        let (asks, mut questions) = mpsc::channel::<Question>(1);
        let person = tokio::spawn(async move {
            let question = questions.recv().await.expect("a question");
            assert!(
                question.message.contains("DELETE /zones/"),
                "{}",
                question.message
            );
            question.reply.send(Some(answer)).expect("the call waits");
        });
        let code = if answer == Answer::Decline {
            format!(
                "async () => {{ try {{ return await ({code})(); }} catch (e) {{ \
                 return e.message.includes(\"declined\") ? \"declined\" : e.message; }} }}",
                code = DELETE_A_RECORD
            )
        } else {
            DELETE_A_RECORD.to_string()
        };
        let outcome = execute_with(&runner, local(), &code, None, Some(asks)).await;
        person.await.expect("the person answered");
        assert_eq!(value(&outcome), expected);
    }
    let decisions: Vec<_> = records(&data)
        .iter()
        .flat_map(|stored| stored.record.requests.clone())
        .filter(|request| request.method == "DELETE")
        .map(|request| request.decision)
        .collect();
    assert!(matches!(decisions[0], RequestDecision::Approved { .. }));
    assert!(matches!(decisions[1], RequestDecision::Rejected { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_refuse_calls_over_the_session_budget_and_the_refusal_is_audited() {
    let auth = r#"
[auth]
mode = "keys"
[[auth.keys]]
subject = "agent"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
scopes = ["search"]
[limits]
search_per_session = 1
"#;
    let (data, runner) = runner(auth).await;
    let agent = caller("agent", &["search"]);
    let first = runner
        .search(&agent, "async () => 1", CancelToken::new())
        .await;
    assert_eq!(value(&first), json!(1));
    let second = runner
        .search(&agent, "async () => 2", CancelToken::new())
        .await;
    assert!(matches!(error(&second), CallError::RateLimited(_)));
    runner.end_session("agent", "session-1");
    let after_the_session = runner
        .search(&agent, "async () => 3", CancelToken::new())
        .await;
    assert_eq!(value(&after_the_session), json!(3));
    let kinds: Vec<_> = records(&data)
        .iter()
        .map(|stored| stored.record.error_kind.clone())
        .collect();
    assert_eq!(kinds, [None, Some("rate_limit".to_string()), None]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_credential_is_the_forwarded_one_else_the_stored_one_else_the_servers() {
    let data = TempDir::new().expect("a temporary directory");
    let key = ServerKey::generate().expect("a key");
    let store = CredentialStore::open(data.path().join("credentials.db"), &key).expect("opens");
    store.set("alice", "stored-token").expect("stored");
    let credentials = Credentials {
        upstream: "cloudflare".into(),
        stored: Some(Arc::new(store)),
        server: Some(Credential::new("server-token").expect("valid")),
    };
    let token = |credential: Option<Credential>| credential.map(|c| c.id());
    let id = |text: &str| Some(Credential::new(text).expect("valid").id());

    let mut alice = caller("alice", &["execute:read"]);
    assert_eq!(
        token(credentials.choose(&alice).await.expect("chosen")),
        id("stored-token")
    );
    alice.forwarded = Some(Credential::new("forwarded-token").expect("valid"));
    assert_eq!(
        token(credentials.choose(&alice).await.expect("chosen")),
        id("forwarded-token")
    );
    let bob = caller("bob", &["execute:read"]);
    assert_eq!(
        token(credentials.choose(&bob).await.expect("chosen")),
        id("server-token")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_stops_asking_after_a_declined_question() {
    let (data, runner) = runner("").await;
    let (asks, mut questions) = mpsc::channel::<Question>(1);
    let person = tokio::spawn(async move {
        let mut asked = 0;
        while let Some(question) = questions.recv().await {
            asked += 1;
            let _ = question.reply.send(Some(Answer::Decline));
        }
        asked
    });
    let code = r#"async () => {
      const zones = await cloudflare.request({method: "GET", path: "/zones"});
      const zone = zones.result[0].id;
      const messages = [];
      for (let i = 0; i < 20; i++) {
        try {
          await cloudflare.request({method: "DELETE", path: `/zones/${zone}/dns_records/r${i}`});
        } catch (e) { messages.push(e.message); }
      }
      return messages;
    }"#;
    let outcome = execute_with(&runner, local(), code, None, Some(asks)).await;
    assert_eq!(person.await.expect("the person answered"), 1);
    let messages = value(&outcome);
    let messages = messages.as_array().expect("the messages");
    assert_eq!(messages.len(), 20);
    assert!(
        messages[1]
            .as_str()
            .is_some_and(|m| m.contains("refused without asking"))
    );
    let deletes: Vec<_> = records(&data)[0]
        .record
        .requests
        .iter()
        .filter(|request| request.method == "DELETE")
        .map(|request| (request.status, request.decision.clone()))
        .collect();
    assert_eq!(deletes.len(), 20, "every refused request is recorded");
    assert!(
        deletes.iter().all(|(status, _)| status.is_none()),
        "none was sent"
    );
}

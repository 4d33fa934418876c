//! Approvals end to end: asking, deciding, letting requests through once, and refusals.

use std::time::Duration;

use crate::common::{minute, record, temp_db};
use codemode_audit::{
    ApprovalError, ApprovalStatus, ApprovalStore, AuditLog, Decision, NewApproval, PendingRequest,
    Timestamp,
};

const AGENT: &str = "agent@example.com";
const HUMAN: &str = "alice@example.com";

fn now() -> Timestamp {
    minute(0)
}

fn post() -> PendingRequest {
    PendingRequest {
        method: "POST".to_owned(),
        path: "/accounts/1/workers/scripts/app".to_owned(),
        body_sha256: Some("b".repeat(64)),
    }
}

fn delete() -> PendingRequest {
    PendingRequest {
        method: "DELETE".to_owned(),
        path: "/zones/9".to_owned(),
        body_sha256: None,
    }
}

/// An approval request from the agent for `pending`, valid for ten minutes.
fn asking_for(pending: Vec<PendingRequest>) -> NewApproval {
    NewApproval {
        subject: AGENT.to_owned(),
        session: Some("session-1".to_owned()),
        code_sha256: "c".repeat(64),
        pending,
        expires_at: now().saturating_add(Duration::from_secs(600)),
    }
}

/// A store holding one approval for `post` and `delete`, approved by the human.
fn approved_store() -> (tempfile::TempDir, ApprovalStore, String) {
    let (dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let id = store
        .create(asking_for(vec![post(), delete()]), now())
        .unwrap()
        .id;
    store.decide(&id, HUMAN, Decision::Approve, now()).unwrap();
    (dir, store, id)
}

#[test]
fn approved_requests_go_through_once_each() {
    let (_dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let created = store
        .create(asking_for(vec![post(), delete()]), now())
        .unwrap();
    assert_eq!(created.status, ApprovalStatus::Pending);
    assert_eq!(created.id.len(), 32);
    assert!(created.id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(store.get(&created.id).unwrap(), created);
    assert_eq!(store.pending(now()).unwrap(), vec![created.clone()]);

    let later = minute(1);
    let decided = store
        .decide(&created.id, HUMAN, Decision::Approve, later)
        .unwrap();
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert_eq!(decided.decided_by.as_deref(), Some(HUMAN));
    assert_eq!(decided.decided_at, Some(later));
    assert!(store.pending(later).unwrap().is_empty());

    store.consume(&created.id, AGENT, &post(), later).unwrap();
    let lowercase_delete = PendingRequest {
        method: "delete".to_owned(),
        ..delete()
    };
    store
        .consume(&created.id, AGENT, &lowercase_delete, later)
        .unwrap();
    let used = store.get(&created.id).unwrap();
    assert!(
        used.requests
            .iter()
            .all(|item| item.consumed_at == Some(later))
    );
}

#[test]
fn ids_differ_between_approvals() {
    let (_dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let first = store.create(asking_for(vec![post()]), now()).unwrap();
    let second = store.create(asking_for(vec![post()]), now()).unwrap();
    assert_ne!(first.id, second.id);
}

#[test]
fn the_asking_subject_cannot_approve_itself() {
    let (_dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let id = store.create(asking_for(vec![post()]), now()).unwrap().id;
    assert!(matches!(
        store.decide(&id, AGENT, Decision::Approve, now()),
        Err(ApprovalError::SelfApproval(_))
    ));
    assert_eq!(store.get(&id).unwrap().status, ApprovalStatus::Pending);
}

#[test]
fn a_replayed_request_is_refused() {
    let (_dir, store, id) = approved_store();
    store.consume(&id, AGENT, &post(), now()).unwrap();
    assert!(matches!(
        store.consume(&id, AGENT, &post(), now()),
        Err(ApprovalError::AlreadyUsed { .. })
    ));
}

#[test]
fn identical_requests_are_consumed_individually() {
    let (_dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let id = store
        .create(asking_for(vec![post(), post()]), now())
        .unwrap()
        .id;
    store.decide(&id, HUMAN, Decision::Approve, now()).unwrap();
    store.consume(&id, AGENT, &post(), now()).unwrap();
    store.consume(&id, AGENT, &post(), now()).unwrap();
    assert!(matches!(
        store.consume(&id, AGENT, &post(), now()),
        Err(ApprovalError::AlreadyUsed { .. })
    ));
}

#[test]
fn expired_approvals_cannot_be_decided_or_used() {
    let (_dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let expiry = asking_for(Vec::new()).expires_at;
    let undecided = store.create(asking_for(vec![post()]), now()).unwrap().id;
    assert!(matches!(
        store.decide(&undecided, HUMAN, Decision::Approve, expiry),
        Err(ApprovalError::Expired(_))
    ));
    assert!(store.pending(expiry).unwrap().is_empty());

    let approved = store.create(asking_for(vec![post()]), now()).unwrap().id;
    store
        .decide(&approved, HUMAN, Decision::Approve, now())
        .unwrap();
    assert!(matches!(
        store.consume(&approved, AGENT, &post(), expiry),
        Err(ApprovalError::Expired(_))
    ));
}

#[test]
fn rejected_approvals_let_nothing_through_and_stay_rejected() {
    let (_dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let id = store.create(asking_for(vec![post()]), now()).unwrap().id;
    let rejected = store.decide(&id, HUMAN, Decision::Reject, now()).unwrap();
    assert_eq!(rejected.status, ApprovalStatus::Rejected);
    assert!(matches!(
        store.consume(&id, AGENT, &post(), now()),
        Err(ApprovalError::Rejected(_))
    ));
    assert!(matches!(
        store.decide(&id, "bob@example.com", Decision::Approve, now()),
        Err(ApprovalError::AlreadyDecided {
            status: ApprovalStatus::Rejected,
            ..
        })
    ));
}

#[test]
fn undecided_approvals_let_nothing_through() {
    let (_dir, path) = temp_db();
    let store = ApprovalStore::open(&path).unwrap();
    let id = store.create(asking_for(vec![post()]), now()).unwrap().id;
    assert!(matches!(
        store.consume(&id, AGENT, &post(), now()),
        Err(ApprovalError::NotApproved(_))
    ));
}

#[test]
fn only_the_exact_request_of_the_asking_subject_goes_through() {
    let (_dir, store, id) = approved_store();
    let variants = [
        PendingRequest {
            method: "PUT".to_owned(),
            ..post()
        },
        PendingRequest {
            path: "/accounts/1/workers/scripts/other".to_owned(),
            ..post()
        },
        PendingRequest {
            body_sha256: Some("d".repeat(64)),
            ..post()
        },
        PendingRequest {
            body_sha256: None,
            ..post()
        },
    ];
    for request in &variants {
        assert!(
            matches!(
                store.consume(&id, AGENT, request, now()),
                Err(ApprovalError::NotPending { .. })
            ),
            "{request:?} should not be covered"
        );
    }
    assert!(matches!(
        store.consume(&id, "other-agent", &post(), now()),
        Err(ApprovalError::WrongSubject(_))
    ));
    store.consume(&id, AGENT, &post(), now()).unwrap();
}

#[test]
fn unknown_ids_are_not_found() {
    let (_dir, store, _) = approved_store();
    let unknown = "0".repeat(32);
    assert!(matches!(
        store.get(&unknown),
        Err(ApprovalError::NotFound(_))
    ));
    assert!(matches!(
        store.decide(&unknown, HUMAN, Decision::Approve, now()),
        Err(ApprovalError::NotFound(_))
    ));
    assert!(matches!(
        store.consume(&unknown, AGENT, &post(), now()),
        Err(ApprovalError::NotFound(_))
    ));
}

#[test]
fn approvals_survive_reopening_and_share_the_file_with_the_log() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).unwrap();
    log.append(&record(0)).unwrap();
    let store = ApprovalStore::open(&path).unwrap();
    let id = store.create(asking_for(vec![post()]), now()).unwrap().id;
    store.decide(&id, HUMAN, Decision::Approve, now()).unwrap();
    drop(store);

    let reopened = ApprovalStore::open(&path).unwrap();
    reopened.consume(&id, AGENT, &post(), now()).unwrap();
    log.append(&record(1)).unwrap();
    assert!(log.verify().unwrap().is_intact());
}

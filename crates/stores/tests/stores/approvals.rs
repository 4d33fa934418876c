//! Approvals in Redis: asked through one handle (replica), decided and used through another.

use codemode_audit::{
    ApprovalError, ApprovalStatus, Decision, NewApproval, PendingRequest, Timestamp,
};
use codemode_stores::{RedisApprovals, RedisLink};

use crate::{server_url, unique};

async fn replica(prefix: &str) -> RedisApprovals {
    let link = RedisLink::connect(&server_url("CODEMODE_TEST_REDIS_URL"), prefix)
        .await
        .expect("Redis answers");
    RedisApprovals::new(link)
}

fn delete_zone() -> PendingRequest {
    PendingRequest {
        method: "DELETE".into(),
        path: "/zones/z1".into(),
        body_sha256: None,
    }
}

fn asked(now: Timestamp) -> NewApproval {
    NewApproval {
        subject: "agent".into(),
        session: None,
        code_sha256: "0".repeat(64),
        pending: vec![delete_zone()],
        expires_at: now.saturating_add(std::time::Duration::from_secs(600)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_asked_on_one_replica_is_decided_and_used_on_another() {
    let prefix = format!("{}:", unique("approvals"));
    let (a, b) = (replica(&prefix).await, replica(&prefix).await);
    let now = Timestamp::now();
    let created = a.create(asked(now), now).await.expect("stored");
    let pending = b.pending(now).await.expect("listed");
    assert_eq!(
        pending.iter().map(|p| &p.id).collect::<Vec<_>>(),
        [&created.id]
    );

    let own = b.decide(&created.id, "agent", Decision::Approve, now).await;
    assert!(
        matches!(own, Err(ApprovalError::SelfApproval(_))),
        "{own:?}"
    );
    let early = a.consume(&created.id, "agent", &delete_zone(), now).await;
    assert!(
        matches!(early, Err(ApprovalError::NotApproved(_))),
        "{early:?}"
    );

    let decided = b
        .decide(&created.id, "alice", Decision::Approve, now)
        .await
        .expect("decided");
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert!(b.pending(now).await.expect("listed").is_empty());
    let again = a.decide(&created.id, "bob", Decision::Reject, now).await;
    assert!(
        matches!(again, Err(ApprovalError::AlreadyDecided { .. })),
        "{again:?}"
    );

    a.consume(&created.id, "agent", &delete_zone(), now)
        .await
        .expect("let through once");
    let replay = b.consume(&created.id, "agent", &delete_zone(), now).await;
    assert!(
        matches!(replay, Err(ApprovalError::AlreadyUsed { .. })),
        "{replay:?}"
    );
    let stored = b.get(&created.id).await.expect("still there");
    assert!(stored.requests[0].consumed_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_replicas_let_an_approved_request_through_once() {
    let prefix = format!("{}:", unique("race"));
    let (a, b) = (replica(&prefix).await, replica(&prefix).await);
    let now = Timestamp::now();
    let created = a.create(asked(now), now).await.expect("stored");
    a.decide(&created.id, "alice", Decision::Approve, now)
        .await
        .expect("decided");
    let request = delete_zone();
    let (first, second) = tokio::join!(
        a.consume(&created.id, "agent", &request, now),
        b.consume(&created.id, "agent", &request, now),
    );
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{first:?} {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_and_unknown_approvals_are_refused() {
    let prefix = format!("{}:", unique("expiry"));
    let store = replica(&prefix).await;
    let now = Timestamp::now();
    let created = store.create(asked(now), now).await.expect("stored");
    let later = now.saturating_add(std::time::Duration::from_secs(601));
    let late = store
        .decide(&created.id, "alice", Decision::Approve, later)
        .await;
    assert!(matches!(late, Err(ApprovalError::Expired(_))), "{late:?}");
    assert!(store.pending(later).await.expect("listed").is_empty());
    let unknown = store.get("0123456789abcdef0123456789abcdef").await;
    assert!(
        matches!(unknown, Err(ApprovalError::NotFound(_))),
        "{unknown:?}"
    );
}

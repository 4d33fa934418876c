//! Approvals in Redis, so an approval asked for on one replica can be decided and used on any:
//! each approval one JSON value, changed only by compare-and-set, and expiring a day after
//! it stops being usable; a sorted set lists those waiting for a decision.

use std::time::Duration;

use codemode_audit::{
    Approval, ApprovalError, ApprovalStatus, Decision, NewApproval, PendingRequest, Timestamp,
    new_approval_id,
};
use redis::{AsyncCommands, Script};

use crate::redis_link::RedisLink;

/// How long an approval is kept after it expires, so using it late says it expired rather
/// than that it never existed.
pub const KEPT_AFTER_EXPIRY: Duration = Duration::from_secs(86_400);

/// How many times a change is tried when other replicas keep changing the same approval.
const CHANGE_ATTEMPTS: usize = 16;

/// Replaces KEYS[1] with ARGV[2], keeping its expiry, only if it still holds ARGV[1].
const COMPARE_AND_SET: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
";

/// Approvals kept in Redis; the same rules as the SQLite store, from [`Approval`] itself.
pub struct RedisApprovals {
    link: RedisLink,
    compare_and_set: Script,
}

impl RedisApprovals {
    /// Keeps approvals through `link`.
    pub fn new(link: RedisLink) -> RedisApprovals {
        RedisApprovals {
            link,
            compare_and_set: Script::new(COMPARE_AND_SET),
        }
    }

    fn approval_key(&self, id: &str) -> String {
        self.link.key(&format!("approval:{id}"))
    }

    fn pending_key(&self) -> String {
        self.link.key("approvals:pending")
    }

    /// Records a new pending approval with a fresh unguessable id.
    pub async fn create(
        &self,
        request: NewApproval,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        let approval = Approval::new(new_approval_id()?, request, now);
        let text = encode(&approval)?;
        let expire_at = approval
            .expires_at
            .saturating_add(KEPT_AFTER_EXPIRY)
            .unix_millis();
        let mut connection = self.link.connection();
        let (created, _): (bool, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.approval_key(&approval.id))
            .arg(text)
            .arg("NX")
            .arg("PXAT")
            .arg(expire_at.max(1))
            .cmd("ZADD")
            .arg(self.pending_key())
            .arg(approval.created_at.unix_millis())
            .arg(&approval.id)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        if !created {
            return Err(ApprovalError::Unavailable(
                "a fresh approval id was already taken".into(),
            ));
        }
        Ok(approval)
    }

    /// The approval with this id.
    pub async fn get(&self, id: &str) -> Result<Approval, ApprovalError> {
        Ok(self.read(id).await?.0)
    }

    /// Approvals still waiting for a decision at `now`, oldest first.
    pub async fn pending(&self, now: Timestamp) -> Result<Vec<Approval>, ApprovalError> {
        let mut connection = self.link.connection();
        let ids: Vec<String> = connection
            .zrange(self.pending_key(), 0, -1)
            .await
            .map_err(unavailable)?;
        let mut waiting = Vec::new();
        let mut gone = Vec::new();
        for id in ids {
            match self.read(&id).await {
                Ok((approval, _)) if approval.status == ApprovalStatus::Pending => {
                    if !approval.is_expired(now) {
                        waiting.push(approval);
                    }
                }
                Ok(_) | Err(ApprovalError::NotFound(_)) => gone.push(id),
                Err(error) => return Err(error),
            }
        }
        if !gone.is_empty() {
            let _: i64 = connection
                .zrem(self.pending_key(), gone)
                .await
                .map_err(unavailable)?;
        }
        waiting.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(waiting)
    }

    /// Approves or rejects a pending approval on behalf of `approver`.
    pub async fn decide(
        &self,
        id: &str,
        approver: &str,
        decision: Decision,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        let decided = self
            .change(id, |approval| approval.decide(approver, decision, now))
            .await?;
        let mut connection = self.link.connection();
        let _: i64 = connection
            .zrem(self.pending_key(), id)
            .await
            .map_err(unavailable)?;
        Ok(decided.0)
    }

    /// Lets `request` through once under an approved approval that `subject` asked for.
    pub async fn consume(
        &self,
        id: &str,
        subject: &str,
        request: &PendingRequest,
        now: Timestamp,
    ) -> Result<(), ApprovalError> {
        self.change(id, |approval| approval.consume(subject, request, now))
            .await
            .map(drop)
    }

    /// Applies `rule` to the stored approval and stores the result, unless another replica
    /// changed it in between, in which case it is read and tried again.
    async fn change<T>(
        &self,
        id: &str,
        mut rule: impl FnMut(&mut Approval) -> Result<T, ApprovalError>,
    ) -> Result<(Approval, T), ApprovalError> {
        let key = self.approval_key(id);
        for _ in 0..CHANGE_ATTEMPTS {
            let (mut approval, before) = self.read(id).await?;
            let outcome = rule(&mut approval)?;
            let after = encode(&approval)?;
            let mut connection = self.link.connection();
            let stored: i64 = self
                .compare_and_set
                .key(&key)
                .arg(&before)
                .arg(after)
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            if stored == 1 {
                return Ok((approval, outcome));
            }
        }
        Err(ApprovalError::Unavailable(format!(
            "approval {id} kept changing under this replica; try again"
        )))
    }

    /// The approval and its stored text, for a later compare-and-set.
    async fn read(&self, id: &str) -> Result<(Approval, String), ApprovalError> {
        let mut connection = self.link.connection();
        let text: Option<String> = connection
            .get(self.approval_key(id))
            .await
            .map_err(unavailable)?;
        let text = text.ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
        let approval = serde_json::from_str(&text).map_err(|error| ApprovalError::Corrupt {
            id: id.to_string(),
            reason: error.to_string(),
        })?;
        Ok((approval, text))
    }
}

fn encode(approval: &Approval) -> Result<String, ApprovalError> {
    serde_json::to_string(approval).map_err(|error| ApprovalError::Corrupt {
        id: approval.id.clone(),
        reason: error.to_string(),
    })
}

fn unavailable(error: redis::RedisError) -> ApprovalError {
    ApprovalError::Unavailable(format!("Redis: {error}"))
}

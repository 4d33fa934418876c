//! `POST /approvals/{id}/approve` and `/reject`: a person with the `approve` scope decides a
//! pending approval; `GET /approvals/{id}` shows it as JSON (a browser gets
//! [`crate::approval_page`] instead).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use codemode_audit::{ApprovalError, Decision, Timestamp};
use codemode_auth::{AuthError, Scope};

use crate::auth_layer::{AuthLayer, error};
use crate::stores::Approvals;
use crate::telemetry::{DecidedVia, meters};

/// Who decides through the approval page with `auth.mode = "none"`, and through
/// `codemode approvals` unless told otherwise: the person at the machine, never the agent's
/// `local` subject.
pub const OPERATOR_SUBJECT: &str = "operator";

/// What the approval routes need.
#[derive(Clone)]
pub struct ApprovalsApi {
    /// Authenticates the person deciding.
    pub auth: AuthLayer,
    /// Where approvals are kept.
    pub store: Approvals,
}

/// `GET /approvals/{id}`.
pub async fn show(
    State(api): State<ApprovalsApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authorize(&api, &headers).await {
        return refused.into_response();
    }
    respond(api.store.get(&id).await)
}

/// `POST /approvals/{id}/approve`.
pub async fn approve(state: State<ApprovalsApi>, id: Path<String>, headers: HeaderMap) -> Response {
    decide(state, id, headers, Decision::Approve).await
}

/// `POST /approvals/{id}/reject`.
pub async fn reject(state: State<ApprovalsApi>, id: Path<String>, headers: HeaderMap) -> Response {
    decide(state, id, headers, Decision::Reject).await
}

async fn decide(
    State(api): State<ApprovalsApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
    decision: Decision,
) -> Response {
    let subject = match authorize(&api, &headers).await {
        Ok(subject) => subject,
        Err(refused) => return refused.into_response(),
    };
    let decided = api
        .store
        .decide(&id, &subject, decision, Timestamp::now())
        .await;
    if decided.is_ok() {
        meters().decided(DecidedVia::Http, decision == Decision::Approve);
    }
    respond(decided)
}

/// The deciding person's subject, once authenticated with the `approve` scope.
pub async fn authorize(api: &ApprovalsApi, headers: &HeaderMap) -> Result<String, AuthError> {
    let principal = api.auth.principal(headers).await?;
    api.auth.require(&principal, Scope::Approve)?;
    Ok(principal.subject)
}

fn respond<T: serde::Serialize>(outcome: Result<T, ApprovalError>) -> Response {
    match outcome {
        Ok(approval) => Json(approval).into_response(),
        Err(refused) => error(status_of(&refused), "approval", &refused.to_string()),
    }
}

/// The HTTP status that answers a refused approval lookup or decision.
pub fn status_of(refused: &ApprovalError) -> StatusCode {
    match refused {
        ApprovalError::NotFound(_) => StatusCode::NOT_FOUND,
        ApprovalError::SelfApproval(_) | ApprovalError::WrongSubject(_) => StatusCode::FORBIDDEN,
        ApprovalError::Expired(_) => StatusCode::GONE,
        ApprovalError::AlreadyDecided { .. } => StatusCode::CONFLICT,
        ApprovalError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApprovalError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

//! `/accounts`: the demo's only account.

use serde_json::{Value, json};

use crate::query::Query;
use crate::reply::{ApiError, Reply, paginated, success, unknown_object};
use crate::{DEMO_ACCOUNT_ID, DEMO_ACCOUNT_NAME, DEMO_TIME};

/// `GET /accounts`.
pub(crate) fn list_accounts(query: &Query) -> Reply {
    let page = query.page(20, 50)?;
    let accounts = if query.matches("name", DEMO_ACCOUNT_NAME) {
        vec![account_json()]
    } else {
        Vec::new()
    };
    paginated(&accounts, page)
}

/// `GET /accounts/{account_id}`.
pub(crate) fn account_details(account: &str, path: &str) -> Reply {
    check_account(account, path)?;
    success(&account_json())
}

fn account_json() -> Value {
    json!({
        "id": DEMO_ACCOUNT_ID,
        "name": DEMO_ACCOUNT_NAME,
        "type": "standard",
        "created_on": DEMO_TIME,
    })
}

/// Refuses every account id but the demo's.
pub(crate) fn check_account(account: &str, path: &str) -> Result<(), ApiError> {
    if account == DEMO_ACCOUNT_ID {
        Ok(())
    } else {
        Err(unknown_object(path))
    }
}

//! `/zones`: listing, creating, editing and deleting zones, and purging their cache.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::fields::{only_fields, optional_bool, optional_string, required_string};
use crate::query::Query;
use crate::reply::{ApiError, Reply, code, invalid, paginated, success, unknown_object};
use crate::state::State;
use crate::{DEMO_ACCOUNT_ID, DEMO_ACCOUNT_NAME, DEMO_TIME};

/// Name servers every demo zone is given.
const NAME_SERVERS: [&str; 2] = ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"];

/// The account a zone belongs to.
#[derive(Clone, Serialize)]
struct AccountRef {
    id: String,
    name: String,
}

/// A zone, as the API shows it.
#[derive(Clone, Serialize)]
pub(crate) struct Zone {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) paused: bool,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    account: AccountRef,
    pub(crate) name_servers: Vec<String>,
    pub(crate) created_on: String,
    pub(crate) modified_on: String,
}

impl State {
    /// Adds a zone of this name, type and status.
    pub(crate) fn add_zone(&mut self, name: &str, kind: &str, status: &str) -> Zone {
        let zone = Zone {
            id: self.new_id(),
            name: name.into(),
            status: status.into(),
            paused: false,
            kind: kind.into(),
            account: AccountRef {
                id: DEMO_ACCOUNT_ID.into(),
                name: DEMO_ACCOUNT_NAME.into(),
            },
            name_servers: NAME_SERVERS.map(String::from).to_vec(),
            created_on: DEMO_TIME.into(),
            modified_on: DEMO_TIME.into(),
        };
        self.zones.push(zone.clone());
        zone
    }

    pub(crate) fn list_zones(&self, query: &Query) -> Reply {
        let page = query.page(20, 50)?;
        let zones: Vec<&Zone> = self
            .zones
            .iter()
            .filter(|z| query.matches("name", &z.name))
            .filter(|z| query.matches("status", &z.status))
            .filter(|z| query.matches("account.id", &z.account.id))
            .collect();
        paginated(&zones, page)
    }

    pub(crate) fn create_zone(&mut self, body: &Map<String, Value>) -> Reply {
        only_fields(body, &["name", "account", "type"])?;
        let name = required_string(body, "name")?.to_ascii_lowercase();
        if !is_domain(&name) {
            return Err(invalid(
                code::INVALID_ZONE_NAME,
                format!(
                    "Invalid zone name {name:?}: give a registrable domain such as example.net"
                ),
            ));
        }
        if let Some(account) = body.get("account") {
            let id = account.get("id").and_then(Value::as_str);
            if id != Some(DEMO_ACCOUNT_ID) {
                return Err(invalid(
                    code::INVALID_REQUEST,
                    format!("account.id must be the demo account, {DEMO_ACCOUNT_ID}"),
                ));
            }
        }
        let kind = zone_type(body)?.unwrap_or("full");
        if self.zones.iter().any(|z| z.name == name) {
            return Err(invalid(code::ZONE_EXISTS, format!("{name} already exists")));
        }
        let zone = self.add_zone(&name, kind, "pending");
        success(&zone)
    }

    pub(crate) fn zone(&self, id: &str, path: &str) -> Result<Zone, ApiError> {
        self.zones
            .iter()
            .find(|z| z.id == id)
            .cloned()
            .ok_or_else(|| unknown_object(path))
    }

    pub(crate) fn edit_zone(&mut self, id: &str, path: &str, body: &Map<String, Value>) -> Reply {
        only_fields(body, &["paused", "type"])?;
        let paused = optional_bool(body, "paused")?;
        let kind = zone_type(body)?;
        let zone = self
            .zones
            .iter_mut()
            .find(|z| z.id == id)
            .ok_or_else(|| unknown_object(path))?;
        if let Some(paused) = paused {
            zone.paused = paused;
        }
        if let Some(kind) = kind {
            zone.kind = kind.into();
        }
        success(&*zone)
    }

    pub(crate) fn delete_zone(&mut self, id: &str, path: &str) -> Reply {
        self.zone(id, path)?;
        self.zones.retain(|z| z.id != id);
        self.records.retain(|r| r.zone_id != id);
        success(&json!({"id": id}))
    }

    pub(crate) fn purge(&self, id: &str, path: &str, body: &Map<String, Value>) -> Reply {
        self.zone(id, path)?;
        only_fields(body, &["purge_everything", "files"])?;
        let everything = optional_bool(body, "purge_everything")? == Some(true);
        let files = match body.get("files") {
            None => 0,
            Some(Value::Array(files)) if files.iter().all(Value::is_string) => files.len(),
            Some(_) => {
                return Err(invalid(
                    code::INVALID_BODY,
                    "files must be an array of URLs",
                ));
            }
        };
        if files > 30 {
            return Err(invalid(
                code::PURGE_TOO_MANY_FILES,
                "Only 30 files can be purged per request",
            ));
        }
        if !everything && files == 0 {
            return Err(invalid(
                code::PURGE_TARGET_MISSING,
                "Request must contain \"purge_everything\": true or a non-empty \"files\" list",
            ));
        }
        success(&json!({"id": id}))
    }
}

/// Whether `name` is a host name of at least two labels.
pub(crate) fn is_domain(name: &str) -> bool {
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn zone_type(body: &Map<String, Value>) -> Result<Option<&'static str>, ApiError> {
    match optional_string(body, "type")?.as_deref() {
        None => Ok(None),
        Some("full") => Ok(Some("full")),
        Some("partial") => Ok(Some("partial")),
        Some(other) => Err(invalid(
            code::INVALID_BODY,
            format!("type must be \"full\" or \"partial\", not {other:?}"),
        )),
    }
}

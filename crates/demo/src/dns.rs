//! `/zones/{zone_id}/dns_records`: DNS records, validated as the API validates them.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::DEMO_TIME;
use crate::fields::{only_fields, optional_bool, optional_integer, optional_string};
use crate::query::Query;
use crate::reply::{ApiError, Reply, code, error, invalid, paginated, success};
use crate::state::State;
use crate::zones::{Zone, is_domain};

/// A DNS record, as the API shows it.
#[derive(Clone, Serialize)]
pub(crate) struct DnsRecord {
    pub(crate) id: String,
    pub(crate) zone_id: String,
    pub(crate) zone_name: String,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) content: String,
    pub(crate) ttl: u32,
    pub(crate) proxied: bool,
    pub(crate) proxiable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<String>,
    pub(crate) created_on: String,
    pub(crate) modified_on: String,
}

/// The writable fields of a DNS record, as a request gives them.
pub(crate) struct RecordFields {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) content: String,
    pub(crate) ttl: u32,
    pub(crate) proxied: bool,
    pub(crate) priority: Option<u16>,
    pub(crate) comment: Option<String>,
}

impl State {
    pub(crate) fn list_records(&self, zone: &str, path: &str, query: &Query) -> Reply {
        self.zone(zone, path)?;
        let page = query.page(100, 5000)?;
        let records: Vec<&DnsRecord> = self
            .records
            .iter()
            .filter(|r| r.zone_id == zone)
            .filter(|r| query.matches("type", &r.kind))
            .filter(|r| query.matches("name", &r.name))
            .filter(|r| query.matches("content", &r.content))
            .collect();
        paginated(&records, page)
    }

    pub(crate) fn create_record(
        &mut self,
        zone_id: &str,
        path: &str,
        body: &Map<String, Value>,
    ) -> Reply {
        let zone = self.zone(zone_id, path)?;
        let fields = record_fields(body, None, &zone.name)?;
        self.refuse_duplicate(&fields, zone_id, None)?;
        let id = self.new_id();
        let created = record(id, &zone, fields);
        self.records.push(created.clone());
        success(&created)
    }

    pub(crate) fn record(&self, zone: &str, id: &str, path: &str) -> Result<usize, ApiError> {
        self.zone(zone, path)?;
        self.records
            .iter()
            .position(|r| r.zone_id == zone && r.id == id)
            .ok_or_else(|| error(404, code::DNS_RECORD_NOT_FOUND, "Record does not exist."))
    }

    pub(crate) fn update_record(
        &mut self,
        zone_id: &str,
        id: &str,
        path: &str,
        body: &Map<String, Value>,
        merge: bool,
    ) -> Reply {
        let zone = self.zone(zone_id, path)?;
        let index = self.record(zone_id, id, path)?;
        let current = merge.then(|| &self.records[index]);
        let fields = record_fields(body, current, &zone.name)?;
        self.refuse_duplicate(&fields, zone_id, Some(id))?;
        let created_on = self.records[index].created_on.clone();
        let mut updated = record(id.to_string(), &zone, fields);
        updated.created_on = created_on;
        self.records[index] = updated.clone();
        success(&updated)
    }

    pub(crate) fn refuse_duplicate(
        &self,
        fields: &RecordFields,
        zone: &str,
        except: Option<&str>,
    ) -> Result<(), ApiError> {
        let duplicate = self.records.iter().any(|r| {
            r.zone_id == zone
                && Some(r.id.as_str()) != except
                && r.kind == fields.kind
                && r.name == fields.name
                && r.content == fields.content
        });
        if duplicate {
            Err(invalid(
                code::DNS_RECORD_EXISTS,
                "An identical record already exists.",
            ))
        } else {
            Ok(())
        }
    }

    pub(crate) fn delete_record(&mut self, zone: &str, id: &str, path: &str) -> Reply {
        let index = self.record(zone, id, path)?;
        self.records.remove(index);
        success(&json!({"id": id}))
    }
}

/// A record with this id in `zone`.
pub(crate) fn record(id: String, zone: &Zone, fields: RecordFields) -> DnsRecord {
    DnsRecord {
        id,
        zone_id: zone.id.clone(),
        zone_name: zone.name.clone(),
        proxiable: is_proxiable(&fields.kind),
        name: fields.name,
        kind: fields.kind,
        content: fields.content,
        ttl: fields.ttl,
        proxied: fields.proxied,
        priority: fields.priority,
        comment: fields.comment,
        created_on: DEMO_TIME.into(),
        modified_on: DEMO_TIME.into(),
    }
}

fn is_proxiable(kind: &str) -> bool {
    matches!(kind, "A" | "AAAA" | "CNAME")
}

/// The fields of a record from a body, over `current` when merging (PATCH); validated.
fn record_fields(
    body: &Map<String, Value>,
    current: Option<&DnsRecord>,
    zone_name: &str,
) -> Result<RecordFields, ApiError> {
    only_fields(
        body,
        &[
            "type", "name", "content", "ttl", "proxied", "priority", "comment",
        ],
    )?;
    let text = |key: &str, current: Option<&String>| -> Result<String, ApiError> {
        match (optional_string(body, key)?, current) {
            (Some(value), _) => Ok(value),
            (None, Some(value)) => Ok(value.clone()),
            (None, None) => Err(invalid(code::INVALID_BODY, format!("{key} is required"))),
        }
    };
    let kind = text("type", current.map(|r| &r.kind))?.to_ascii_uppercase();
    let name = text("name", current.map(|r| &r.name))?;
    let content = text("content", current.map(|r| &r.content))?;
    let ttl = match optional_integer(body, "ttl")? {
        Some(ttl) => ttl,
        None => current.map_or(1, |r| u64::from(r.ttl)),
    };
    let proxied = optional_bool(body, "proxied")?.unwrap_or(current.is_some_and(|r| r.proxied));
    let priority = match optional_integer(body, "priority")? {
        Some(p) => Some(
            u16::try_from(p)
                .map_err(|_| invalid(code::INVALID_BODY, "priority must be 0 to 65535"))?,
        ),
        None => current.and_then(|r| r.priority),
    };
    let comment = match optional_string(body, "comment")? {
        Some(comment) => Some(comment),
        None => current.and_then(|r| r.comment.clone()),
    };
    if !matches!(kind.as_str(), "A" | "AAAA" | "CNAME" | "MX" | "NS" | "TXT") {
        return Err(invalid(
            code::DNS_TYPE_INVALID,
            format!("Invalid DNS record type {kind:?}; use A, AAAA, CNAME, MX, NS or TXT"),
        ));
    }
    let name = qualified_name(&name, zone_name)?;
    check_content(&kind, &content)?;
    let ttl = match u32::try_from(ttl) {
        Ok(ttl) if ttl == 1 || (60..=86_400).contains(&ttl) => ttl,
        _ => {
            return Err(invalid(
                code::DNS_TTL_INVALID,
                "TTL must be between 60 and 86400 seconds, or 1 for Automatic",
            ));
        }
    };
    if proxied && !is_proxiable(&kind) {
        return Err(invalid(
            code::DNS_NOT_PROXIABLE,
            format!("{kind} records cannot be proxied"),
        ));
    }
    if comment.as_ref().is_some_and(|c| c.chars().count() > 100) {
        return Err(invalid(
            code::INVALID_BODY,
            "comment is at most 100 characters",
        ));
    }
    Ok(RecordFields {
        priority: if kind == "MX" {
            priority.or(Some(10))
        } else {
            None
        },
        kind,
        name,
        content,
        ttl,
        proxied,
        comment,
    })
}

/// `@` is the apex, a relative name is completed with the zone, and the result must be inside it.
fn qualified_name(name: &str, zone: &str) -> Result<String, ApiError> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let name = if name == "@" {
        zone.to_string()
    } else if name == zone || name.ends_with(&format!(".{zone}")) {
        name
    } else {
        format!("{name}.{zone}")
    };
    let valid_labels = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*'))
    });
    if valid_labels && name.len() <= 253 {
        Ok(name)
    } else {
        Err(invalid(
            code::DNS_NAME_INVALID,
            format!("DNS name {name:?} is invalid"),
        ))
    }
}

fn check_content(kind: &str, content: &str) -> Result<(), ApiError> {
    let valid = match kind {
        "A" => content.parse::<Ipv4Addr>().is_ok(),
        "AAAA" => content.parse::<Ipv6Addr>().is_ok(),
        "TXT" => !content.is_empty() && content.len() <= 2048,
        _ => is_domain(content.trim_end_matches('.')),
    };
    if valid {
        return Ok(());
    }
    let expected = match kind {
        "A" => "a valid IPv4 address",
        "AAAA" => "a valid IPv6 address",
        "TXT" => "1 to 2048 characters",
        _ => "a valid host name",
    };
    Err(invalid(
        code::DNS_CONTENT_INVALID,
        format!("Content for {kind} record must be {expected}."),
    ))
}

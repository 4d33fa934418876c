//! The demo API behind `specs/demo.yaml`, served from memory: accounts, zones, DNS records, cache
//! purges and Workers KV, with Cloudflare envelopes, error codes and pagination. The clock is
//! frozen so responses are reproducible; nothing touches the network.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use codemode_spec::Method;
use futures::future::{self, BoxFuture};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::upstream::{PreparedRequest, RawResponse, Upstream, UpstreamError};

/// The OpenAPI document the demo implements.
pub const DEMO_SPEC_YAML: &str = include_str!("../../../specs/demo.yaml");

/// The id of the demo's only account.
pub const DEMO_ACCOUNT_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// The name of the demo's only account.
pub const DEMO_ACCOUNT_NAME: &str = "Demo Account";

/// Every timestamp the demo reports.
const DEMO_TIME: &str = "2024-01-01T00:00:00Z";

/// Name servers every demo zone is given.
const NAME_SERVERS: [&str; 2] = ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"];

/// Error codes, as the Cloudflare API uses them.
mod code {
    pub(super) const INVALID_REQUEST: u32 = 1001;
    pub(super) const ZONE_EXISTS: u32 = 1061;
    pub(super) const INVALID_ZONE_NAME: u32 = 1099;
    pub(super) const PURGE_TARGET_MISSING: u32 = 1012;
    pub(super) const PURGE_TOO_MANY_FILES: u32 = 1015;
    pub(super) const NO_ROUTE: u32 = 7000;
    pub(super) const METHOD_NOT_ALLOWED: u32 = 7001;
    pub(super) const UNKNOWN_OBJECT: u32 = 7003;
    pub(super) const DNS_NAME_INVALID: u32 = 9000;
    pub(super) const DNS_NOT_PROXIABLE: u32 = 9004;
    pub(super) const DNS_CONTENT_INVALID: u32 = 9005;
    pub(super) const DNS_TYPE_INVALID: u32 = 9007;
    pub(super) const DNS_TTL_INVALID: u32 = 9020;
    pub(super) const INVALID_BODY: u32 = 9207;
    pub(super) const KV_KEY_NOT_FOUND: u32 = 10009;
    pub(super) const KV_NAMESPACE_NOT_FOUND: u32 = 10013;
    pub(super) const KV_TITLE_EXISTS: u32 = 10014;
    pub(super) const KV_INVALID: u32 = 10019;
    pub(super) const DNS_RECORD_NOT_FOUND: u32 = 81044;
    pub(super) const DNS_RECORD_EXISTS: u32 = 81057;
}

/// The in-memory API. Each instance starts from the same seed data.
pub struct DemoUpstream {
    state: Mutex<State>,
}

impl DemoUpstream {
    /// A demo API holding one account, two zones with DNS records, and one KV namespace.
    pub fn new() -> DemoUpstream {
        DemoUpstream {
            state: Mutex::new(State::seeded()),
        }
    }
}

impl Default for DemoUpstream {
    fn default() -> Self {
        DemoUpstream::new()
    }
}

impl Upstream for DemoUpstream {
    fn send(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'static, Result<RawResponse, UpstreamError>> {
        let response = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .handle(&request);
        Box::pin(future::ready(Ok(response)))
    }
}

/// A failed request: HTTP status, Cloudflare error code, message.
struct ApiError {
    status: u16,
    code: u32,
    message: String,
}

type Reply = Result<RawResponse, ApiError>;

fn error(status: u16, code: u32, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

fn invalid(code: u32, message: impl Into<String>) -> ApiError {
    error(400, code, message)
}

#[derive(Clone, Serialize)]
struct AccountRef {
    id: String,
    name: String,
}

#[derive(Clone, Serialize)]
struct Zone {
    id: String,
    name: String,
    status: String,
    paused: bool,
    #[serde(rename = "type")]
    kind: String,
    account: AccountRef,
    name_servers: Vec<String>,
    created_on: String,
    modified_on: String,
}

#[derive(Clone, Serialize)]
struct DnsRecord {
    id: String,
    zone_id: String,
    zone_name: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    content: String,
    ttl: u32,
    proxied: bool,
    proxiable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    created_on: String,
    modified_on: String,
}

#[derive(Clone, Serialize)]
struct Namespace {
    id: String,
    title: String,
    supports_url_encoding: bool,
}

struct KvEntry {
    value: String,
    metadata: Option<Value>,
}

/// The writable fields of a DNS record, as a request gives them.
struct RecordFields {
    kind: String,
    name: String,
    content: String,
    ttl: u32,
    proxied: bool,
    priority: Option<u16>,
    comment: Option<String>,
}

struct State {
    next_id: u64,
    zones: Vec<Zone>,
    records: Vec<DnsRecord>,
    namespaces: Vec<Namespace>,
    values: BTreeMap<(String, String), KvEntry>,
}

impl State {
    fn seeded() -> State {
        let mut state = State {
            next_id: 0,
            zones: Vec::new(),
            records: Vec::new(),
            namespaces: Vec::new(),
            values: BTreeMap::new(),
        };
        let com = state.add_zone("example.com", "full", "active");
        let org = state.add_zone("example.org", "full", "active");
        let seed_records = [
            (&com, "A", "example.com", "192.0.2.1", true, None),
            (&com, "AAAA", "example.com", "2001:db8::1", true, None),
            (&com, "CNAME", "www.example.com", "example.com", true, None),
            (
                &com,
                "MX",
                "example.com",
                "mail.example.com",
                false,
                Some(10),
            ),
            (&com, "TXT", "example.com", "v=spf1 -all", false, None),
            (&org, "A", "example.org", "198.51.100.7", false, None),
            (
                &org,
                "TXT",
                "_dmarc.example.org",
                "v=DMARC1; p=reject",
                false,
                None,
            ),
        ];
        for (zone, kind, name, content, proxied, priority) in seed_records {
            let fields = RecordFields {
                kind: kind.into(),
                name: name.into(),
                content: content.into(),
                ttl: 1,
                proxied,
                priority,
                comment: None,
            };
            let id = state.new_id();
            state.records.push(record(id, zone, fields));
        }
        let namespace = Namespace {
            id: state.new_id(),
            title: "demo-config".into(),
            supports_url_encoding: true,
        };
        state.values.insert(
            (namespace.id.clone(), "greeting".into()),
            KvEntry {
                value: "hello from the demo".into(),
                metadata: None,
            },
        );
        state.namespaces.push(namespace);
        state
    }

    /// A fresh, deterministic 32-hex id.
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        let digest = Sha256::digest(format!("codemode-demo-{}", self.next_id));
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    fn add_zone(&mut self, name: &str, kind: &str, status: &str) -> Zone {
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

    /// Routes a request to its handler; every outcome is a Cloudflare envelope.
    fn handle(&mut self, request: &PreparedRequest) -> RawResponse {
        let segments: Vec<String> = request
            .path
            .segments()
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let query = Query(&request.query);
        let method = request.method;
        let path = request.path.as_str();
        let reply = match (segments.as_slice(), method) {
            (["accounts"], Method::Get) => list_accounts(&query),
            (["accounts", account], Method::Get) => account_details(account, path),
            (["zones"], Method::Get) => self.list_zones(&query),
            (["zones"], Method::Post) => body_object(request).and_then(|b| self.create_zone(&b)),
            (["zones", zone], Method::Get) => self.zone(zone, path).and_then(|z| success(&z)),
            (["zones", zone], Method::Patch) => {
                body_object(request).and_then(|b| self.edit_zone(zone, path, &b))
            }
            (["zones", zone], Method::Delete) => self.delete_zone(zone, path),
            (["zones", zone, "purge_cache"], Method::Post) => {
                body_object(request).and_then(|b| self.purge(zone, path, &b))
            }
            (["zones", zone, "dns_records"], Method::Get) => self.list_records(zone, path, &query),
            (["zones", zone, "dns_records"], Method::Post) => {
                body_object(request).and_then(|b| self.create_record(zone, path, &b))
            }
            (["zones", zone, "dns_records", id], Method::Get) => self
                .record(zone, id, path)
                .and_then(|i| success(&self.records[i])),
            (["zones", zone, "dns_records", id], Method::Put | Method::Patch) => {
                body_object(request)
                    .and_then(|b| self.update_record(zone, id, path, &b, method == Method::Patch))
            }
            (["zones", zone, "dns_records", id], Method::Delete) => {
                self.delete_record(zone, id, path)
            }
            (["accounts", account, "storage", "kv", "namespaces"], Method::Get) => {
                self.list_namespaces(account, path, &query)
            }
            (["accounts", account, "storage", "kv", "namespaces"], Method::Post) => {
                body_object(request).and_then(|b| self.create_namespace(account, path, &b))
            }
            (
                [
                    "accounts",
                    account,
                    "storage",
                    "kv",
                    "namespaces",
                    ns,
                    "keys",
                ],
                Method::Get,
            ) => self.list_keys(account, ns, path, &query),
            (
                [
                    "accounts",
                    account,
                    "storage",
                    "kv",
                    "namespaces",
                    ns,
                    "values",
                    key,
                ],
                _,
            ) => self.kv_value(request, account, ns, key),
            (known, _) if is_known_path(known) => Err(error(
                405,
                code::METHOD_NOT_ALLOWED,
                format!("Method {method} not allowed for this route"),
            )),
            _ => Err(error(404, code::NO_ROUTE, "No route for that URI")),
        };
        reply.unwrap_or_else(failure)
    }

    fn list_zones(&self, query: &Query) -> Reply {
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

    fn create_zone(&mut self, body: &Map<String, Value>) -> Reply {
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

    fn zone(&self, id: &str, path: &str) -> Result<Zone, ApiError> {
        self.zones
            .iter()
            .find(|z| z.id == id)
            .cloned()
            .ok_or_else(|| unknown_object(path))
    }

    fn edit_zone(&mut self, id: &str, path: &str, body: &Map<String, Value>) -> Reply {
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

    fn delete_zone(&mut self, id: &str, path: &str) -> Reply {
        self.zone(id, path)?;
        self.zones.retain(|z| z.id != id);
        self.records.retain(|r| r.zone_id != id);
        success(&json!({"id": id}))
    }

    fn purge(&self, id: &str, path: &str, body: &Map<String, Value>) -> Reply {
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

    fn list_records(&self, zone: &str, path: &str, query: &Query) -> Reply {
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

    fn create_record(&mut self, zone_id: &str, path: &str, body: &Map<String, Value>) -> Reply {
        let zone = self.zone(zone_id, path)?;
        let fields = record_fields(body, None, &zone.name)?;
        self.refuse_duplicate(&fields, zone_id, None)?;
        let id = self.new_id();
        let created = record(id, &zone, fields);
        self.records.push(created.clone());
        success(&created)
    }

    fn record(&self, zone: &str, id: &str, path: &str) -> Result<usize, ApiError> {
        self.zone(zone, path)?;
        self.records
            .iter()
            .position(|r| r.zone_id == zone && r.id == id)
            .ok_or_else(|| error(404, code::DNS_RECORD_NOT_FOUND, "Record does not exist."))
    }

    fn update_record(
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

    fn refuse_duplicate(
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

    fn delete_record(&mut self, zone: &str, id: &str, path: &str) -> Reply {
        let index = self.record(zone, id, path)?;
        self.records.remove(index);
        success(&json!({"id": id}))
    }

    fn list_namespaces(&self, account: &str, path: &str, query: &Query) -> Reply {
        check_account(account, path)?;
        let page = query.page(20, 100)?;
        paginated(&self.namespaces.iter().collect::<Vec<_>>(), page)
    }

    fn create_namespace(&mut self, account: &str, path: &str, body: &Map<String, Value>) -> Reply {
        check_account(account, path)?;
        only_fields(body, &["title"])?;
        let title = required_string(body, "title")?;
        if title.is_empty() || title.len() > 512 {
            return Err(invalid(code::KV_INVALID, "title must be 1 to 512 bytes"));
        }
        if self.namespaces.iter().any(|n| n.title == title) {
            return Err(invalid(
                code::KV_TITLE_EXISTS,
                "a namespace with this account ID and title already exists",
            ));
        }
        let namespace = Namespace {
            id: self.new_id(),
            title,
            supports_url_encoding: true,
        };
        self.namespaces.push(namespace.clone());
        success(&namespace)
    }

    fn namespace(&self, account: &str, id: &str, path: &str) -> Result<(), ApiError> {
        check_account(account, path)?;
        if self.namespaces.iter().any(|n| n.id == id) {
            Ok(())
        } else {
            Err(error(
                404,
                code::KV_NAMESPACE_NOT_FOUND,
                "get namespace: 'namespace not found'",
            ))
        }
    }

    fn list_keys(&self, account: &str, namespace: &str, path: &str, query: &Query) -> Reply {
        self.namespace(account, namespace, path)?;
        let limit = query.number("limit", 1000)?;
        if !(10..=1000).contains(&limit) {
            return Err(invalid(
                code::INVALID_REQUEST,
                "limit must be between 10 and 1000",
            ));
        }
        let prefix = query.get("prefix").unwrap_or_default();
        let keys: Vec<Value> = self
            .values
            .iter()
            .filter(|((ns, key), _)| ns == namespace && key.starts_with(prefix))
            .take(limit as usize)
            .map(|((_, key), entry)| match &entry.metadata {
                Some(metadata) => json!({"name": key, "metadata": metadata}),
                None => json!({"name": key}),
            })
            .collect();
        let info = json!({"count": keys.len(), "cursor": ""});
        Ok(envelope_reply(200, json!(keys), Some(info)))
    }

    fn kv_value(
        &mut self,
        request: &PreparedRequest,
        account: &str,
        namespace: &str,
        key: &str,
    ) -> Reply {
        let path = request.path.as_str();
        self.namespace(account, namespace, path)?;
        if key.len() > 512 {
            return Err(invalid(code::KV_INVALID, "key names are at most 512 bytes"));
        }
        let slot = (namespace.to_string(), key.to_string());
        match request.method {
            Method::Get => match self.values.get(&slot) {
                Some(entry) => Ok(RawResponse {
                    status: 200,
                    content_type: Some("application/octet-stream".into()),
                    retry_after: None,
                    body: Bytes::from(entry.value.clone()),
                }),
                None => Err(error(404, code::KV_KEY_NOT_FOUND, "get: 'key not found'")),
            },
            Method::Put => {
                let entry = kv_entry(request)?;
                self.values.insert(slot, entry);
                success(&Value::Null)
            }
            Method::Delete => {
                self.values.remove(&slot);
                success(&Value::Null)
            }
            other => Err(error(
                405,
                code::METHOD_NOT_ALLOWED,
                format!("Method {other} not allowed for this route"),
            )),
        }
    }
}

fn list_accounts(query: &Query) -> Reply {
    let page = query.page(20, 50)?;
    let accounts = if query.matches("name", DEMO_ACCOUNT_NAME) {
        vec![account_json()]
    } else {
        Vec::new()
    };
    paginated(&accounts, page)
}

fn account_details(account: &str, path: &str) -> Reply {
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

fn check_account(account: &str, path: &str) -> Result<(), ApiError> {
    if account == DEMO_ACCOUNT_ID {
        Ok(())
    } else {
        Err(unknown_object(path))
    }
}

fn unknown_object(path: &str) -> ApiError {
    error(
        404,
        code::UNKNOWN_OBJECT,
        format!("Could not route to {path}, perhaps your object identifier is invalid?"),
    )
}

/// Whether some method is served on this path, so another method earns a 405 rather than a 404.
fn is_known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["accounts"]
            | ["accounts", _]
            | ["zones"]
            | ["zones", _]
            | ["zones", _, "purge_cache"]
            | ["zones", _, "dns_records"]
            | ["zones", _, "dns_records", _]
            | ["accounts", _, "storage", "kv", "namespaces"]
            | ["accounts", _, "storage", "kv", "namespaces", _, "keys"]
    )
}

fn record(id: String, zone: &Zone, fields: RecordFields) -> DnsRecord {
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

fn is_domain(name: &str) -> bool {
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

/// The value to store: the `value` part of a multipart body (with optional JSON `metadata`),
/// else the body's text as sent.
fn kv_entry(request: &PreparedRequest) -> Result<KvEntry, ApiError> {
    let Some(body) = &request.body else {
        return Err(invalid(
            code::KV_INVALID,
            "a value is required: send it as the body",
        ));
    };
    if !body
        .content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Ok(KvEntry {
            value: String::from_utf8_lossy(&body.bytes).into_owned(),
            metadata: None,
        });
    }
    let malformed = || {
        invalid(
            code::KV_INVALID,
            "the multipart body is malformed: parts are separated by \"--boundary\" lines with CRLF line ends",
        )
    };
    let mut parts = multipart_parts(&body.content_type, &body.bytes).ok_or_else(malformed)?;
    let value = parts
        .remove("value")
        .ok_or_else(|| invalid(code::KV_INVALID, "the multipart body has no \"value\" part"))?;
    let metadata = match parts.remove("metadata") {
        None => None,
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|_| invalid(code::KV_INVALID, "metadata must be JSON"))?,
        ),
    };
    Ok(KvEntry { value, metadata })
}

/// The named parts of a `multipart/form-data` body.
fn multipart_parts(content_type: &str, body: &[u8]) -> Option<HashMap<String, String>> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .find_map(|param| param.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let mut parts = HashMap::new();
    for part in text.split(&format!("--{boundary}")).skip(1) {
        if part.starts_with("--") {
            return Some(parts);
        }
        let (headers, value) = part.strip_prefix("\r\n")?.split_once("\r\n\r\n")?;
        let name = headers.split("\r\n").find_map(|line| {
            let (header, params) = line.split_once(':')?;
            if !header.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            params
                .split(';')
                .find_map(|p| p.trim().strip_prefix("name="))
                .map(|n| n.trim_matches('"').to_string())
        })?;
        parts.insert(
            name,
            value.strip_suffix("\r\n").unwrap_or(value).to_string(),
        );
    }
    None
}

/// The query parameters of a request.
struct Query<'a>(&'a [(String, String)]);

/// A page request: 1-based page number and its size.
#[derive(Clone, Copy)]
struct Page {
    page: u64,
    per_page: u64,
}

impl Query<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the filter `key` is absent or equals `value`.
    fn matches(&self, key: &str, value: &str) -> bool {
        self.get(key).is_none_or(|wanted| wanted == value)
    }

    fn number(&self, key: &str, default: u64) -> Result<u64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                invalid(
                    code::INVALID_REQUEST,
                    format!("{key} must be a whole number, not {text:?}"),
                )
            }),
        }
    }

    fn page(&self, default_per_page: u64, max_per_page: u64) -> Result<Page, ApiError> {
        let page = self.number("page", 1)?;
        let per_page = self.number("per_page", default_per_page)?;
        if page == 0 {
            return Err(invalid(code::INVALID_REQUEST, "page must be at least 1"));
        }
        if !(1..=max_per_page).contains(&per_page) {
            return Err(invalid(
                code::INVALID_REQUEST,
                format!("per_page must be between 1 and {max_per_page}"),
            ));
        }
        Ok(Page { page, per_page })
    }
}

fn paginated<T: Serialize>(items: &[T], page: Page) -> Reply {
    let total = items.len() as u64;
    let start = (page.page - 1).saturating_mul(page.per_page).min(total) as usize;
    let end = (start as u64 + page.per_page).min(total) as usize;
    let shown = &items[start..end];
    let info = json!({
        "page": page.page,
        "per_page": page.per_page,
        "count": shown.len(),
        "total_count": total,
        "total_pages": total.div_ceil(page.per_page),
    });
    Ok(envelope_reply(200, to_json(shown), Some(info)))
}

fn success<T: Serialize + ?Sized>(result: &T) -> Reply {
    Ok(envelope_reply(200, to_json(result), None))
}

fn failure(error: ApiError) -> RawResponse {
    let body = json!({
        "success": false,
        "errors": [{"code": error.code, "message": error.message}],
        "messages": [],
        "result": null,
    });
    json_response(error.status, &body)
}

fn envelope_reply(status: u16, result: Value, result_info: Option<Value>) -> RawResponse {
    let mut body = json!({"success": true, "errors": [], "messages": [], "result": result});
    if let (Some(info), Some(fields)) = (result_info, body.as_object_mut()) {
        fields.insert("result_info".into(), info);
    }
    json_response(status, &body)
}

fn json_response(status: u16, body: &Value) -> RawResponse {
    RawResponse {
        status,
        content_type: Some("application/json".into()),
        retry_after: None,
        body: Bytes::from(body.to_string()),
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The body as a JSON object, or a 400 saying what is wrong with it.
fn body_object(request: &PreparedRequest) -> Result<Map<String, Value>, ApiError> {
    let Some(body) = &request.body else {
        return Err(invalid(
            code::INVALID_BODY,
            "Request body is required: send a JSON object",
        ));
    };
    if !body.content_type.to_ascii_lowercase().contains("json") {
        return Err(invalid(
            code::INVALID_BODY,
            format!("Request body must be JSON, not {}", body.content_type),
        ));
    }
    match serde_json::from_slice(&body.bytes) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(invalid(
            code::INVALID_BODY,
            "Request body is invalid: expected a JSON object",
        )),
    }
}

fn only_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(invalid(
            code::INVALID_BODY,
            format!("Unknown field {unknown:?}; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn wrong_type(key: &str, expected: &str) -> ApiError {
    invalid(code::INVALID_BODY, format!("{key} must be {expected}"))
}

fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrong_type(key, "a string")),
    }
}

fn required_string(body: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    optional_string(body, key)?
        .ok_or_else(|| invalid(code::INVALID_BODY, format!("{key} is required")))
}

fn optional_bool(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(key, "a boolean")),
    }
}

fn optional_integer(body: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }) {
            Some(n) => Ok(Some(n)),
            None => Err(wrong_type(key, "a non-negative whole number")),
        },
    }
}

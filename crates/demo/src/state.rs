//! The demo's data, seeded the same way every time, and the routing of a request to the
//! resource that serves it.

use std::collections::BTreeMap;

use codemode_spec::Method;
use codemode_upstream::{PreparedRequest, RawResponse};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use crate::accounts::{account_details, list_accounts};
use crate::dns::{DnsRecord, RecordFields, record};
use crate::fields::body_object;
use crate::kv::{KvEntry, Namespace};
use crate::query::Query;
use crate::reply::{code, error, failure, success};
use crate::zones::Zone;

/// Everything the demo holds.
pub(crate) struct State {
    next_id: u64,
    pub(crate) zones: Vec<Zone>,
    pub(crate) records: Vec<DnsRecord>,
    pub(crate) namespaces: Vec<Namespace>,
    pub(crate) values: BTreeMap<(String, String), KvEntry>,
}

impl State {
    /// One account, two zones with DNS records, and one KV namespace holding one value.
    pub(crate) fn seeded() -> State {
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
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        let digest = Sha256::digest(format!("codemode-demo-{}", self.next_id));
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Routes a request to its handler; every outcome is a Cloudflare envelope.
    pub(crate) fn handle(&mut self, request: &PreparedRequest) -> RawResponse {
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

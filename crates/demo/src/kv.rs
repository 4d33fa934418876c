//! `/accounts/{account_id}/storage/kv/namespaces`: Workers KV namespaces, keys and values.

use std::collections::HashMap;

use bytes::Bytes;
use codemode_spec::Method;
use codemode_upstream::{PreparedRequest, RawResponse};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::accounts::check_account;
use crate::fields::{only_fields, required_string};
use crate::query::Query;
use crate::reply::{ApiError, Reply, code, envelope_reply, error, invalid, paginated, success};
use crate::state::State;

/// A KV namespace, as the API shows it.
#[derive(Clone, Serialize)]
pub(crate) struct Namespace {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) supports_url_encoding: bool,
}

/// One stored value and its metadata.
pub(crate) struct KvEntry {
    pub(crate) value: String,
    pub(crate) metadata: Option<Value>,
}

impl State {
    pub(crate) fn list_namespaces(&self, account: &str, path: &str, query: &Query) -> Reply {
        check_account(account, path)?;
        let page = query.page(20, 100)?;
        paginated(&self.namespaces.iter().collect::<Vec<_>>(), page)
    }

    pub(crate) fn create_namespace(
        &mut self,
        account: &str,
        path: &str,
        body: &Map<String, Value>,
    ) -> Reply {
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

    pub(crate) fn namespace(&self, account: &str, id: &str, path: &str) -> Result<(), ApiError> {
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

    pub(crate) fn list_keys(
        &self,
        account: &str,
        namespace: &str,
        path: &str,
        query: &Query,
    ) -> Reply {
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

    pub(crate) fn kv_value(
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
                    headers: Vec::new(),
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

//! `[[upstreams]]`: the APIs one server serves, each with its spec, base, credential, headers,
//! policy and limits; without the section, today's keys make the one upstream `cloudflare`.

use std::collections::{BTreeMap, HashSet};

use codemode_sandbox::DEFAULT_API_GLOBAL;
use codemode_upstream::{DEFAULT_AUTH_HEADER, DEFAULT_AUTH_SCHEME, EnvelopeShape, GatewayConfig};
use serde::Deserialize;

use crate::settings::sections::PolicyConfig;
use crate::settings::{ConfigError, DEFAULT_API_BASE, SpecChoice, TOKEN_ENV};

/// Headers a `forward_header` may not be: the server reads them itself.
const RESERVED_HEADERS: [&str; 7] = [
    "authorization",
    "x-upstream-authorization",
    "cookie",
    "host",
    "origin",
    "content-type",
    "mcp-session-id",
];

/// One `[[upstreams]]` table as the config file has it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamOptions {
    /// The global `execute` code reaches it by (`github` for `github.request`), and its key
    /// in `specs`.
    pub name: String,
    /// Its OpenAPI document: a file path or an https URL.
    pub spec: String,
    /// Its base URL; default: the spec's `servers[0].url`.
    pub api_base: Option<String>,
    /// The environment variable holding its server-wide credential.
    pub token_env: Option<String>,
    /// The request header a trusted caller may forward a user's own credential in.
    pub forward_header: Option<String>,
    /// The header the credential goes in (default `Authorization`).
    pub auth_header: Option<String>,
    /// What precedes the credential (default `Bearer`; empty for a bare key).
    pub auth_scheme: Option<String>,
    /// Fixed headers sent with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Its policy rules, checked before the built-in defaults.
    pub policy: Option<PolicyConfig>,
    /// Its request limits and checks, with the keys of `[upstream]`.
    pub limits: Option<GatewayConfig>,
}

/// One upstream, resolved.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// The global `execute` code reaches it by.
    pub name: String,
    /// Its spec.
    pub spec: SpecChoice,
    /// Its base URL, when set; else the spec's first server, once loaded.
    pub api_base: Option<String>,
    /// The base used when neither is known: Cloudflare's for the one upstream today's keys
    /// describe, none for a `[[upstreams]]` table (which then refuses to start).
    pub fallback_base: Option<String>,
    /// The environment variable holding its server-wide credential.
    pub token_env: String,
    /// The request header a caller may forward a credential for it in, if any.
    pub forward_header: Option<String>,
    /// The header the credential goes in.
    pub auth_header: String,
    /// What precedes the credential in it; empty for a bare key.
    pub auth_scheme: String,
    /// Fixed headers sent with every request.
    pub headers: Vec<(String, String)>,
    /// Its policy rules.
    pub policy: PolicyConfig,
    /// Its limits and checks, with its name and envelope.
    pub gateway: GatewayConfig,
}

impl UpstreamSettings {
    /// The base URL requests go to, once the spec is loaded: the configured one, else the
    /// spec's first server, else the fallback; `None` when there is none at all.
    pub fn base_for(&self, spec: &codemode_spec::Spec) -> Option<String> {
        self.api_base
            .clone()
            .or_else(|| spec.server_url().map(str::to_owned))
            .or_else(|| self.fallback_base.clone())
    }

    /// The HTTP settings of its requests: its credential header and fixed headers.
    pub fn http_settings(&self) -> codemode_upstream::HttpSettings {
        codemode_upstream::HttpSettings {
            auth_header: self.auth_header.clone(),
            auth_scheme: self.auth_scheme.clone(),
            headers: self.headers.clone(),
            ..codemode_upstream::HttpSettings::default()
        }
    }

    /// The one upstream today's keys describe: `cloudflare`, on `CLOUDFLARE_API_TOKEN`.
    pub fn legacy(
        spec: SpecChoice,
        api_base: Option<String>,
        policy: PolicyConfig,
        gateway: GatewayConfig,
    ) -> UpstreamSettings {
        UpstreamSettings {
            name: DEFAULT_API_GLOBAL.to_owned(),
            spec,
            api_base,
            fallback_base: Some(DEFAULT_API_BASE.to_owned()),
            token_env: TOKEN_ENV.to_owned(),
            forward_header: None,
            auth_header: DEFAULT_AUTH_HEADER.to_owned(),
            auth_scheme: DEFAULT_AUTH_SCHEME.to_owned(),
            headers: Vec::new(),
            policy,
            gateway: named(gateway, DEFAULT_API_GLOBAL),
        }
    }

    /// Resolves `[[upstreams]]`, with an error for each table that cannot work.
    pub fn resolve_all(
        tables: Vec<UpstreamOptions>,
        errors: &mut Vec<ConfigError>,
    ) -> Vec<UpstreamSettings> {
        let mut seen = HashSet::new();
        let invalid = |reason: String| ConfigError::Invalid {
            key: "upstreams",
            reason,
        };
        if tables.is_empty() {
            errors.push(invalid(
                "is empty; add a [[upstreams]] table with a name and a spec, or leave it out"
                    .into(),
            ));
        }
        let mut resolved = Vec::new();
        let mut forward_headers = HashSet::new();
        for (index, table) in tables.into_iter().enumerate() {
            if let Some(header) = &table.forward_header {
                let lower = header.to_ascii_lowercase();
                let reason = if index == 0 {
                    Some(
                        "the first upstream's forwarded credential comes in X-Upstream-Authorization; leave forward_header out of its table",
                    )
                } else if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    Some("it is not a valid header name")
                } else if RESERVED_HEADERS.contains(&lower.as_str()) {
                    Some(
                        "the server reads that header itself; choose one such as X-GitHub-Authorization",
                    )
                } else if !forward_headers.insert(lower) {
                    Some("another upstream forwards in it; give each upstream its own")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    errors.push(invalid(format!(
                        "{}: forward_header {header:?}: {reason}",
                        table.name
                    )));
                }
            }
            if !is_identifier(&table.name) {
                errors.push(invalid(format!(
                    "name {:?} is not a plain JavaScript identifier (letters, digits, _ or $, \
                     not starting with a digit); it becomes the global `NAME.request`",
                    table.name
                )));
            }
            if !seen.insert(table.name.clone()) {
                errors.push(invalid(format!(
                    "name {:?} is used by two upstreams; give each its own name",
                    table.name
                )));
            }
            if let Some(rules) = &table.policy
                && let Err(error) = codemode_policy::Policy::new(rules.rules.clone())
            {
                errors.push(invalid(format!("{}: policy: {error}", table.name)));
            }
            let gateway = table.limits.unwrap_or_default();
            if let Err(error) = gateway.validate() {
                errors.push(invalid(format!("{}: limits: {error}", table.name)));
            }
            resolved.push(UpstreamSettings {
                token_env: table
                    .token_env
                    .unwrap_or_else(|| format!("{}_API_TOKEN", table.name.to_ascii_uppercase())),
                spec: SpecChoice::Source(table.spec),
                api_base: table.api_base,
                fallback_base: None,
                forward_header: table.forward_header,
                auth_header: table
                    .auth_header
                    .unwrap_or_else(|| DEFAULT_AUTH_HEADER.to_owned()),
                auth_scheme: table
                    .auth_scheme
                    .unwrap_or_else(|| DEFAULT_AUTH_SCHEME.to_owned()),
                headers: table.headers.into_iter().collect(),
                policy: table.policy.unwrap_or_default(),
                gateway: named(gateway, &table.name),
                name: table.name,
            });
        }
        resolved
    }
}

/// `gateway` for the upstream reached as `name`: Cloudflare's envelope for `cloudflare`, the
/// generic one for any other.
fn named(gateway: GatewayConfig, name: &str) -> GatewayConfig {
    GatewayConfig {
        api: name.to_owned(),
        envelope: if name == DEFAULT_API_GLOBAL {
            EnvelopeShape::Cloudflare
        } else {
            EnvelopeShape::Generic
        },
        ..gateway
    }
}

/// Whether `name` can be a global of the sandbox.
fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !["spec", "specs", "console", "accountId"].contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Options, Settings};

    fn resolved(toml: &str) -> Result<Settings, String> {
        let options: Options = toml::from_str(toml).map_err(|e| e.to_string())?;
        Settings::resolve(options).map_err(|e| e.to_string())
    }

    #[test]
    fn todays_keys_mean_one_upstream_named_cloudflare() {
        let settings = resolved("api_base = \"http://127.0.0.1:9/client/v4\"").expect("valid");
        let [only] = &settings.upstreams[..] else {
            panic!("one upstream, got {}", settings.upstreams.len());
        };
        assert_eq!(only.name, "cloudflare");
        assert_eq!(only.token_env, TOKEN_ENV);
        assert_eq!(
            only.api_base.as_deref(),
            Some("http://127.0.0.1:9/client/v4")
        );
        assert_eq!(only.fallback_base.as_deref(), Some(DEFAULT_API_BASE));
        assert_eq!(
            (only.auth_header.as_str(), only.auth_scheme.as_str()),
            ("Authorization", "Bearer")
        );
        assert_eq!(only.gateway.envelope, EnvelopeShape::Cloudflare);
        assert_eq!(only.gateway.api, "cloudflare");
        assert_eq!(
            only.gateway,
            GatewayConfig {
                api: "cloudflare".into(),
                ..GatewayConfig::default()
            }
        );
    }

    #[test]
    fn tables_take_their_defaults_and_the_generic_envelope() {
        let settings = resolved(
            "[[upstreams]]\nname = \"cloudflare\"\nspec = \"https://example.com/cf.json\"\n\
             [[upstreams]]\nname = \"github\"\nspec = \"https://example.com/gh.json\"\n\
             auth_scheme = \"\"\nheaders = { Accept = \"application/json\" }\n\
             [upstreams.limits]\nmax_subrequests = 3\n",
        )
        .expect("valid");
        let github = &settings.upstreams[1];
        assert_eq!(github.token_env, "GITHUB_API_TOKEN");
        assert_eq!(github.api_base, None);
        assert_eq!(github.fallback_base, None);
        assert_eq!(github.auth_scheme, "");
        assert_eq!(
            github.headers,
            [("Accept".into(), "application/json".into())]
        );
        assert_eq!(github.gateway.envelope, EnvelopeShape::Generic);
        assert_eq!(github.gateway.max_subrequests, 3);
        assert_eq!(
            settings.upstreams[0].gateway.envelope,
            EnvelopeShape::Cloudflare
        );
    }

    #[test]
    fn bad_tables_are_refused_each_with_its_reason() {
        let error = resolved(
            "api_base = \"https://api.example.com\"\n\
             [[upstreams]]\nname = \"gh\"\nspec = \"https://example.com/a.json\"\n\
             forward_header = \"X-A\"\n\
             [[upstreams]]\nname = \"gh\"\nspec = \"https://example.com/a.json\"\n\
             [[upstreams]]\nname = \"spec\"\nspec = \"https://example.com/a.json\"\n\
             forward_header = \"Authorization\"\n",
        )
        .expect_err("invalid");
        for reason in [
            "`api_base`: [[upstreams]] gives each upstream its own",
            "name \"gh\" is used by two upstreams",
            "name \"spec\" is not a plain JavaScript identifier",
            "gh: forward_header \"X-A\": the first upstream's forwarded credential comes in X-Upstream-Authorization",
            "spec: forward_header \"Authorization\": the server reads that header itself",
        ] {
            assert!(error.contains(reason), "{reason:?} missing from:\n{error}");
        }
    }
}

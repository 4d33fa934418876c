//! Oauth mode: codemode as an OAuth 2.1 resource server (MCP authorization). Access tokens are
//! JWTs (RFC 9068) whose `aud` names this resource (RFC 8707); the resource metadata document
//! (RFC 9728) tells clients where to get them.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::json;
use url::{Host, Url};

use crate::config::{ConfigError, OAuthConfig};
use crate::error::{AuthErrorKind, Challenge};
use crate::jwks::{JwksCache, KeyLookupError, RefreshPolicy};
use crate::principal::Principal;
use crate::scope::{Scope, Scopes};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 30;

/// Path prefix of the protected resource metadata document (RFC 9728 §3).
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The checked oauth settings: what tokens must carry and what the metadata says.
pub(crate) struct ResourceServer {
    /// One validation per accepted algorithm (jsonwebtoken checks one family at a time).
    validations: Vec<(Algorithm, Validation)>,
    metadata: serde_json::Value,
    metadata_url: String,
    challenge: Challenge,
    forward_scope: Option<String>,
}

impl ResourceServer {
    /// Checks `config` and derives the validations, metadata and challenge.
    pub(crate) fn new(config: &OAuthConfig) -> Result<ResourceServer, ConfigError> {
        if config.issuer.trim().is_empty() {
            return Err(ConfigError::Empty("issuer"));
        }
        let resource = resource_url(&config.resource)?;
        jwks_url(&config.jwks_url)?;
        let authorization_servers = non_empty_list(
            "authorization_servers",
            config.authorization_servers.as_deref(),
        )?
        .unwrap_or_else(|| vec![config.issuer.clone()]);
        let scopes_supported =
            non_empty_list("scopes_supported", config.scopes_supported.as_deref())?
                .unwrap_or_else(|| Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect());
        if config
            .forward_scope
            .as_deref()
            .is_some_and(|scope| scope.trim().is_empty())
        {
            return Err(ConfigError::Empty("forward_scope"));
        }
        let metadata_url = metadata_url(&resource);
        Ok(ResourceServer {
            validations: validations(config)?,
            metadata: json!({
                "resource": config.resource,
                "authorization_servers": authorization_servers,
                "scopes_supported": scopes_supported,
                "bearer_methods_supported": ["header"],
            }),
            challenge: Challenge {
                resource_metadata: Some(Arc::from(metadata_url.as_str())),
                scope: Some(Arc::from(scopes_supported.join(" "))),
            },
            metadata_url,
            forward_scope: config.forward_scope.clone(),
        })
    }
}

/// Verifies access tokens against the issuer's published keys.
pub(crate) struct OAuthVerifier {
    server: ResourceServer,
    jwks: JwksCache,
}

impl OAuthVerifier {
    /// A verifier for `config`; keys are fetched when the first token arrives.
    pub(crate) fn new(config: &OAuthConfig) -> Result<OAuthVerifier, ConfigError> {
        let server = ResourceServer::new(config)?;
        let jwks = JwksCache::new(&config.jwks_url, RefreshPolicy::default())
            .map_err(|error| ConfigError::HttpClient(error.to_string()))?;
        Ok(OAuthVerifier { server, jwks })
    }

    /// The protected resource metadata document (RFC 9728).
    pub(crate) fn metadata(&self) -> &serde_json::Value {
        &self.server.metadata
    }

    /// Where the metadata document is served.
    pub(crate) fn metadata_url(&self) -> &str {
        &self.server.metadata_url
    }

    /// What 401 and 403 challenges advertise.
    pub(crate) fn challenge(&self) -> &Challenge {
        &self.server.challenge
    }

    /// Whether the issuer's signing keys can be had.
    pub(crate) async fn keys_reachable(&self) -> Result<(), String> {
        self.jwks.reachable().await
    }

    /// The principal an access token stands for, if its signature and claims hold.
    pub(crate) async fn verify(&self, token: &str) -> Result<Principal, AuthErrorKind> {
        let header = decode_header(token).map_err(|_| invalid("token is malformed"))?;
        let validation = self
            .server
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, validation)| validation)
            .ok_or_else(|| invalid("token signing algorithm is not accepted"))?;
        let key = self
            .jwks
            .key_for(header.kid.as_deref())
            .await
            .map_err(|error| match error {
                KeyLookupError::Unknown => invalid("token signing key is unknown"),
                KeyLookupError::Unavailable(problem) => AuthErrorKind::Unavailable(problem),
            })?;
        if key.algorithm.is_some_and(|alg| alg != header.alg) {
            return Err(invalid("token algorithm does not match its signing key"));
        }
        let claims = decode::<AccessClaims>(token, &key.key, validation)
            .map_err(|error| describe(error.kind()))?
            .claims;
        self.principal(claims)
    }

    fn principal(&self, claims: AccessClaims) -> Result<Principal, AuthErrorKind> {
        let subject = claims
            .sub
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| invalid("token lacks the `sub` claim"))?;
        let mut granted: Vec<&str> = claims
            .scope
            .as_deref()
            .map(|text| text.split_whitespace().collect())
            .unwrap_or_default();
        match &claims.scp {
            Some(ScopeClaim::Text(text)) => granted.extend(text.split_whitespace()),
            Some(ScopeClaim::List(names)) => granted.extend(names.iter().map(String::as_str)),
            None => {}
        }
        let may_forward = self
            .server
            .forward_scope
            .as_deref()
            .is_some_and(|forward| granted.contains(&forward));
        Ok(Principal {
            subject,
            scopes: Scopes::known_in(granted),
            may_forward,
            client: claims.client_id.or(claims.azp),
        })
    }
}

/// The claims codemode reads; `exp`, `nbf`, `iss` and `aud` are checked by the validation.
#[derive(Deserialize)]
struct AccessClaims {
    sub: Option<String>,
    scope: Option<String>,
    scp: Option<ScopeClaim>,
    client_id: Option<String>,
    azp: Option<String>,
}

/// `scp` is a list at some issuers and a space-separated string at others.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeClaim {
    Text(String),
    List(Vec<String>),
}

fn invalid(reason: &str) -> AuthErrorKind {
    AuthErrorKind::InvalidToken(reason.to_owned())
}

/// A client-facing reason for a rejected token; never quotes the token.
fn describe(kind: &ErrorKind) -> AuthErrorKind {
    match kind {
        ErrorKind::ExpiredSignature => invalid("token has expired"),
        ErrorKind::ImmatureSignature => invalid("token is not valid yet (nbf)"),
        ErrorKind::InvalidIssuer => invalid("token issuer is not trusted"),
        ErrorKind::InvalidAudience => invalid("token audience does not include this resource"),
        ErrorKind::InvalidSignature => invalid("token signature is invalid"),
        ErrorKind::MissingRequiredClaim(claim) => {
            AuthErrorKind::InvalidToken(format!("token lacks the `{claim}` claim"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            AuthErrorKind::InvalidToken(format!("token claim `{claim}` is malformed"))
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_) => invalid("token algorithm does not match its signing key"),
        _ => invalid("token is malformed"),
    }
}

fn validations(config: &OAuthConfig) -> Result<Vec<(Algorithm, Validation)>, ConfigError> {
    if config.algorithms.is_empty() {
        return Err(ConfigError::Empty("algorithms"));
    }
    config
        .algorithms
        .iter()
        .map(|&alg| {
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                return Err(ConfigError::SymmetricAlgorithm(format!("{alg:?}")));
            }
            let mut validation = Validation::new(alg);
            validation.leeway = LEEWAY_SECONDS;
            validation.validate_nbf = true;
            validation.set_issuer(&[&config.issuer]);
            validation.set_audience(&[&config.resource]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            Ok((alg, validation))
        })
        .collect()
}

fn non_empty_list(
    field: &'static str,
    list: Option<&[String]>,
) -> Result<Option<Vec<String>>, ConfigError> {
    match list {
        None => Ok(None),
        Some(items) if items.is_empty() || items.iter().any(|item| item.trim().is_empty()) => {
            Err(ConfigError::Empty(field))
        }
        Some(items) => Ok(Some(items.to_vec())),
    }
}

fn resource_url(text: &str) -> Result<Url, ConfigError> {
    let bad = |problem: &str| ConfigError::BadUrl {
        field: "resource",
        problem: problem.to_owned(),
    };
    let url = Url::parse(text).map_err(|error| bad(&format!("not an absolute URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad("must be an http(s) URL with a host"));
    }
    if url.fragment().is_some() || url.query().is_some() {
        return Err(bad("must not have a query or fragment (RFC 8707)"));
    }
    Ok(url)
}

fn jwks_url(text: &str) -> Result<(), ConfigError> {
    let bad = |problem: &str| ConfigError::BadUrl {
        field: "jwks_url",
        problem: problem.to_owned(),
    };
    let url = Url::parse(text).map_err(|error| bad(&format!("not an absolute URL: {error}")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if url.host().as_ref().is_some_and(is_loopback) => Ok(()),
        _ => Err(bad("must use https unless it points at a loopback address")),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// RFC 9728 §3.1: the well-known path goes between the host and the resource's path.
fn metadata_url(resource: &Url) -> String {
    let origin = resource.origin().ascii_serialization();
    let path = resource.path().trim_end_matches('/');
    format!("{origin}{METADATA_PATH}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn metadata_url_inserts_the_well_known_path() {
        assert_eq!(
            metadata_url(&url("https://codemode.example.com/mcp")),
            "https://codemode.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url(&url("https://codemode.example.com/")),
            "https://codemode.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url(&url("http://127.0.0.1:8080/a/mcp/")),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/mcp"
        );
    }

    #[test]
    fn jwks_url_needs_https_off_loopback() {
        assert!(jwks_url("https://issuer.example/jwks").is_ok());
        assert!(jwks_url("http://127.0.0.1:9/jwks").is_ok());
        assert!(jwks_url("http://[::1]:9/jwks").is_ok());
        assert!(jwks_url("http://localhost/jwks").is_ok());
        assert!(jwks_url("http://issuer.example/jwks").is_err());
        assert!(jwks_url("jwks.json").is_err());
    }

    #[test]
    fn resource_must_be_a_plain_absolute_url() {
        assert!(resource_url("https://h.example/mcp").is_ok());
        assert!(resource_url("https://h.example/mcp#x").is_err());
        assert!(resource_url("https://h.example/mcp?a=1").is_err());
        assert!(resource_url("/mcp").is_err());
        assert!(resource_url("urn:codemode").is_err());
    }
}

//! Reading the bearer token from a request's headers (RFC 6750 §2.1).

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::error::AuthErrorKind;

/// The token of `Authorization: Bearer <token>`; `Ok(None)` when the request has no bearer credential.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthErrorKind> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("more than one Authorization header"));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid("Authorization header is not visible ASCII"))?;
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(invalid("empty bearer token"));
    }
    if token.contains(char::is_whitespace) {
        return Err(invalid("malformed bearer token"));
    }
    Ok(Some(token))
}

fn invalid(reason: &str) -> AuthErrorKind {
    AuthErrorKind::InvalidToken(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                AUTHORIZATION,
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        map
    }

    #[test]
    fn reads_the_token_case_insensitively() {
        let map = headers(&["bearer abc.def"]);
        assert_eq!(bearer_token(&map), Ok(Some("abc.def")));
        let map = headers(&["Bearer   abc "]);
        assert_eq!(bearer_token(&map), Ok(Some("abc")));
    }

    #[test]
    fn other_schemes_and_absence_mean_no_credential() {
        assert_eq!(bearer_token(&HeaderMap::new()), Ok(None));
        assert_eq!(bearer_token(&headers(&["Basic dXNlcjpwdw=="])), Ok(None));
    }

    #[test]
    fn malformed_bearer_values_are_invalid() {
        for bad in [
            vec!["Bearer"],
            vec!["Bearer a b"],
            vec!["Bearer a", "Bearer b"],
        ] {
            let map = headers(&bad);
            let result = bearer_token(&map);
            assert!(
                matches!(result, Err(AuthErrorKind::InvalidToken(_))),
                "{bad:?}"
            );
        }
    }
}

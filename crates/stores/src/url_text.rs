//! Store URLs as they may be shown: without their password.

/// `url` with any password replaced by `***`, or a fixed placeholder when it is not a URL
/// (it is then never echoed, since it may be a password pasted in the wrong place).
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<not a URL>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_never_shown() {
        let shown = redacted("redis://:hunter2-pw@127.0.0.1:6379/0");
        assert!(!shown.contains("hunter2-pw"), "{shown}");
        assert_eq!(shown, "redis://:***@127.0.0.1:6379/0");
        let shown = redacted("postgres://audit:s3cret-pw@db:5432/codemode");
        assert_eq!(shown, "postgres://audit:***@db:5432/codemode");
        assert_eq!(redacted("s3cret-pw"), "<not a URL>");
    }
}

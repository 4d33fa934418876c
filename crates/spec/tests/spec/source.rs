//! Spec sources: parsing the command-line value, reading files, and downloading URLs through
//! the cache.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};

use codemode_spec::{SpecError, SpecSource, default_cache_dir, fetch};

/// A fresh, empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codemode-spec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Serves one canned HTTP response per connection on a loopback port, then closes the port.
fn serve(responses: Vec<String>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!(
        "http://{}/openapi.json",
        listener.local_addr().expect("address")
    );
    let server = thread::spawn(move || {
        for response in responses {
            let (mut stream, _) = listener.accept().expect("a connection");
            let mut reader = BufReader::new(stream.try_clone().expect("stream"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            stream
                .write_all(response.as_bytes())
                .expect("response written");
        }
    });
    (url, server)
}

fn http_response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn cached_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|entry| entry.expect("entry").path()).collect())
        .unwrap_or_default()
}

#[test]
fn command_line_values_become_files_or_urls() {
    let url = |text: &str| SpecSource::Url(text.to_string());
    assert_eq!(
        SpecSource::parse("https://example.com/openapi.json").ok(),
        Some(url("https://example.com/openapi.json"))
    );
    assert_eq!(
        SpecSource::parse("http://localhost:8080/spec").ok(),
        Some(url("http://localhost:8080/spec"))
    );
    assert_eq!(
        SpecSource::parse("http://127.0.0.2/spec").ok(),
        Some(url("http://127.0.0.2/spec"))
    );
    assert_eq!(
        SpecSource::parse("http://[::1]:9000/spec").ok(),
        Some(url("http://[::1]:9000/spec"))
    );
    assert_eq!(
        SpecSource::parse("specs/demo.yaml").ok(),
        Some(SpecSource::File(PathBuf::from("specs/demo.yaml")))
    );
    for refused in [
        "http://example.com/openapi.json",
        "http://10.0.0.1/spec",
        "ftp://example.com/spec",
        "https://",
        "",
    ] {
        let error = SpecSource::parse(refused).expect_err(refused);
        assert!(
            matches!(error, SpecError::InvalidSource { .. }),
            "{refused}: {error}"
        );
    }
    assert!(
        SpecSource::parse("http://example.com/x")
            .expect_err("plain http")
            .to_string()
            .contains("loopback")
    );
    let source: SpecSource = "https://example.com/a.json".parse().expect("parses");
    assert_eq!(source.to_string(), "https://example.com/a.json");
}

#[test]
fn the_default_cache_dir_is_named_for_codemode() {
    let dir = default_cache_dir();
    assert!(dir.is_absolute(), "{}", dir.display());
    assert!(dir.ends_with("codemode"), "{}", dir.display());
}

#[tokio::test]
async fn a_file_is_read_as_it_is() {
    let dir = scratch_dir("file");
    let path = dir.join("spec.yaml");
    std::fs::write(&path, "openapi: 3.1.0\npaths: {}\n").expect("written");
    let bytes = fetch(&SpecSource::File(path), &dir).await.expect("read");
    assert_eq!(bytes, b"openapi: 3.1.0\npaths: {}\n");
    let missing = dir.join("missing.json");
    let error = fetch(&SpecSource::File(missing.clone()), &dir)
        .await
        .expect_err("missing");
    assert!(
        matches!(&error, SpecError::Read { path, .. } if *path == missing),
        "{error}"
    );
}

#[tokio::test]
async fn a_download_is_cached_and_the_cache_stands_in_when_the_url_fails() {
    let cache = scratch_dir("cache");
    let body = r#"{"openapi": "3.1.0", "paths": {}}"#;
    let (url, server) = serve(vec![
        http_response("200 OK", body),
        http_response("503 Service Unavailable", "down"),
    ]);
    let source = SpecSource::parse(&url).expect("loopback http");

    let downloaded = fetch(&source, &cache).await.expect("downloaded");
    assert_eq!(downloaded, body.as_bytes());
    let files = cached_files(&cache);
    assert_eq!(
        files.len(),
        1,
        "one cache file, no temporary left: {files:?}"
    );

    let from_cache = fetch(&source, &cache)
        .await
        .expect("served from the cache after a 503");
    assert_eq!(from_cache, body.as_bytes());
    server.join().expect("server finished");

    let offline = fetch(&source, &cache)
        .await
        .expect("served from the cache when nothing listens");
    assert_eq!(offline, body.as_bytes());
}

#[tokio::test]
async fn an_unreachable_url_without_a_cache_says_what_to_do() {
    let cache = scratch_dir("empty-cache");
    let (url, server) = serve(vec![http_response("404 Not Found", "no such spec")]);
    let source = SpecSource::parse(&url).expect("loopback http");
    let error = fetch(&source, &cache)
        .await
        .expect_err("nothing to fall back on");
    server.join().expect("server finished");
    let SpecError::Fetch {
        url: failed,
        reason,
        ..
    } = &error
    else {
        panic!("expected a fetch error, got {error}");
    };
    assert_eq!(failed, &url);
    assert!(reason.contains("404"), "{reason}");
    let message = error.to_string();
    assert!(message.contains("no cached copy"), "{message}");
    assert!(
        message.contains("--spec <file>") && message.contains("--demo"),
        "{message}"
    );
    assert!(cached_files(&cache).is_empty());
}

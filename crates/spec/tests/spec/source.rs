//! Spec sources: parsing the command-line value, reading files, and downloading URLs through
//! the cache, conditionally, without letting a bad download replace a good cached copy.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use codemode_spec::{Origin, Progress, SpecError, SpecLoader, SpecSource, default_cache_dir};

/// A fresh, empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codemode-spec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Serves one canned HTTP response per connection on a loopback port, then closes the port.
/// The server thread hands back each request's header lines, in order.
fn serve(responses: Vec<String>) -> (String, JoinHandle<Vec<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!(
        "http://{}/openapi.json",
        listener.local_addr().expect("address")
    );
    let server = thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let (mut stream, _) = listener.accept().expect("a connection");
            let mut reader = BufReader::new(stream.try_clone().expect("stream"));
            let mut headers = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                headers.push(line.trim_end().to_ascii_lowercase());
                line.clear();
            }
            requests.push(headers);
            stream
                .write_all(response.as_bytes())
                .expect("response written");
        }
        requests
    });
    (url, server)
}

fn http_response(status: &str, body: &str) -> String {
    http_response_with(status, "", body)
}

fn http_response_with(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
}

fn cached_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|entry| entry.expect("entry").path()).collect())
        .unwrap_or_default()
}

/// The cached document (the file that is not its cache policy).
fn cached_document(dir: &Path) -> String {
    let files: Vec<_> = cached_files(dir)
        .into_iter()
        .filter(|path| path.extension().is_none())
        .collect();
    assert_eq!(files.len(), 1, "one cached document: {files:?}");
    std::fs::read_to_string(&files[0]).expect("cached document")
}

fn url_loader(url: &str, cache: &Path) -> SpecLoader {
    SpecLoader::new(SpecSource::parse(url).expect("loopback http"), cache.into())
}

const SPEC_V1: &str =
    r#"{"openapi": "3.1.0", "info": {"title": "One", "version": "1"}, "paths": {}}"#;
const SPEC_V2: &str =
    r#"{"openapi": "3.1.0", "info": {"title": "Two", "version": "2"}, "paths": {}}"#;
const HTML: &str = "<!doctype html><html><body>Rate limited, try later</body></html>";

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
async fn a_file_is_loaded_as_it_is() {
    let dir = scratch_dir("file");
    let path = dir.join("spec.json");
    std::fs::write(&path, SPEC_V1).expect("written");
    let loaded = SpecLoader::new(SpecSource::File(path), dir.clone())
        .load()
        .await
        .expect("loaded");
    assert_eq!(loaded.spec.title(), "One");
    assert_eq!(loaded.origin, Origin::File);
    let missing = dir.join("missing.json");
    let error = SpecLoader::new(SpecSource::File(missing.clone()), dir)
        .load()
        .await
        .expect_err("missing");
    assert!(
        matches!(&error, SpecError::Read { path, .. } if *path == missing),
        "{error}"
    );
}

#[tokio::test]
async fn a_download_is_cached_asked_for_again_conditionally_and_stands_in_offline() {
    let cache = scratch_dir("cache");
    let (url, server) = serve(vec![
        http_response_with("200 OK", "ETag: \"v1\"\r\n", SPEC_V1),
        http_response_with("304 Not Modified", "ETag: \"v1\"\r\n", ""),
        http_response("503 Service Unavailable", "down"),
    ]);
    let loader = url_loader(&url, &cache);

    let downloaded = loader.load().await.expect("downloaded");
    assert_eq!(downloaded.origin, Origin::Downloaded);
    assert_eq!(cached_document(&cache), SPEC_V1);
    let files = cached_files(&cache);
    assert_eq!(
        files.len(),
        2,
        "the document and its cache policy, no temporary: {files:?}"
    );

    let unchanged = loader.load().await.expect("304");
    assert_eq!(unchanged.origin, Origin::Unchanged);
    assert_eq!(unchanged.spec.title(), "One");

    let after_503 = loader
        .load()
        .await
        .expect("the cache stands in after a 503");
    assert!(
        matches!(&after_503.origin, Origin::Cached { reason } if reason.contains("503")),
        "{:?}",
        after_503.origin
    );
    let requests = server.join().expect("server finished");
    assert!(
        !requests[0].iter().any(|h| h.starts_with("if-none-match")),
        "the first download is unconditional: {:?}",
        requests[0]
    );
    assert!(
        requests[1].contains(&"if-none-match: \"v1\"".to_string()),
        "the second asks whether v1 changed: {:?}",
        requests[1]
    );

    let offline = loader
        .load()
        .await
        .expect("the cache stands in when nothing listens");
    assert!(matches!(offline.origin, Origin::Cached { .. }));
    assert_eq!(offline.spec.title(), "One");
}

#[tokio::test]
async fn an_html_page_with_status_200_does_not_replace_the_cached_spec() {
    let cache = scratch_dir("poison");
    let (url, server) = serve(vec![
        http_response_with("200 OK", "ETag: \"v1\"\r\n", SPEC_V1),
        http_response_with(
            "200 OK",
            "ETag: \"html\"\r\nContent-Type: text/html\r\n",
            HTML,
        ),
        http_response_with("304 Not Modified", "ETag: \"v1\"\r\n", ""),
    ]);
    let loader = url_loader(&url, &cache);
    loader.load().await.expect("downloaded");

    let after_html = loader
        .load()
        .await
        .expect("the cached copy stands in for the HTML page");
    let Origin::Cached { reason } = &after_html.origin else {
        panic!("expected the cached copy, got {:?}", after_html.origin);
    };
    assert!(reason.contains("not a usable spec"), "{reason}");
    assert_eq!(after_html.spec.title(), "One");
    assert_eq!(
        cached_document(&cache),
        SPEC_V1,
        "the cache still holds the spec"
    );

    let unchanged = loader.load().await.expect("304 on the kept validators");
    assert_eq!(unchanged.origin, Origin::Unchanged);
    let requests = server.join().expect("server finished");
    assert!(
        requests[2].contains(&"if-none-match: \"v1\"".to_string()),
        "the validators are still the spec's, not the HTML page's: {:?}",
        requests[2]
    );
}

#[tokio::test]
async fn a_copy_the_server_called_fresh_is_used_without_asking_but_a_reload_always_asks() {
    let cache = scratch_dir("fresh");
    let (url, server) = serve(vec![
        http_response_with(
            "200 OK",
            "ETag: \"v1\"\r\nCache-Control: max-age=3600\r\n",
            SPEC_V1,
        ),
        http_response_with("304 Not Modified", "ETag: \"v1\"\r\n", ""),
    ]);
    let loader = url_loader(&url, &cache);
    assert_eq!(
        loader.load().await.expect("downloaded").origin,
        Origin::Downloaded
    );

    let fresh = loader.load().await.expect("fresh");
    assert_eq!(
        fresh.origin,
        Origin::Fresh,
        "within max-age no request is sent"
    );
    assert_eq!(fresh.spec.title(), "One");
    assert!(
        loader.reload().await.expect("304").is_none(),
        "a reload asks even while the copy is fresh, and hears unchanged"
    );
    let requests = server.join().expect("server finished");
    assert_eq!(
        requests.len(),
        2,
        "the fresh load sent nothing: {requests:?}"
    );
    assert!(
        requests[1].contains(&"if-none-match: \"v1\"".to_string())
            && requests[1].contains(&"cache-control: no-cache".to_string()),
        "the reload revalidates: {:?}",
        requests[1]
    );
}

#[tokio::test]
async fn a_copy_known_only_by_its_last_modified_date_is_asked_about_by_that_date() {
    let cache = scratch_dir("last-modified");
    let date = "Tue, 06 Aug 2024 10:00:00 GMT";
    let (url, server) = serve(vec![
        http_response_with("200 OK", &format!("Last-Modified: {date}\r\n"), SPEC_V1),
        http_response_with(
            "304 Not Modified",
            &format!("Last-Modified: {date}\r\n"),
            "",
        ),
    ]);
    let loader = url_loader(&url, &cache);
    loader.load().await.expect("downloaded");
    let unchanged = loader.load().await.expect("304");
    assert_eq!(
        unchanged.origin,
        Origin::Unchanged,
        "no heuristic freshness from the date alone: the server is asked"
    );
    let requests = server.join().expect("server finished");
    let since = format!("if-modified-since: {}", date.to_ascii_lowercase());
    assert!(requests[1].contains(&since), "{:?}", requests[1]);
}

#[tokio::test]
async fn a_304_that_names_another_copy_is_followed_by_an_unconditional_download() {
    let cache = scratch_dir("other-copy");
    let (url, server) = serve(vec![
        http_response_with("200 OK", "ETag: \"v1\"\r\n", SPEC_V1),
        http_response_with("304 Not Modified", "ETag: \"v9\"\r\n", ""),
        http_response_with("200 OK", "ETag: \"v2\"\r\n", SPEC_V2),
    ]);
    let loader = url_loader(&url, &cache);
    loader.load().await.expect("downloaded");
    let changed = loader.load().await.expect("asked again and downloaded");
    assert_eq!(changed.origin, Origin::Downloaded);
    assert_eq!(changed.spec.title(), "Two");
    assert_eq!(cached_document(&cache), SPEC_V2);
    let requests = server.join().expect("server finished");
    assert!(
        !requests[2].iter().any(|h| h.starts_with("if-")),
        "the retry is unconditional: {:?}",
        requests[2]
    );
}

#[tokio::test]
async fn a_reload_says_unchanged_refuses_a_bad_document_and_takes_a_new_spec() {
    let cache = scratch_dir("reload");
    let (url, server) = serve(vec![
        http_response_with("200 OK", "ETag: \"v1\"\r\n", SPEC_V1),
        http_response_with("304 Not Modified", "ETag: \"v1\"\r\n", ""),
        http_response("200 OK", HTML),
        http_response("500 Internal Server Error", "oops"),
        http_response_with("200 OK", "ETag: \"v2\"\r\n", SPEC_V2),
    ]);
    let loader = url_loader(&url, &cache);
    loader.load().await.expect("downloaded");
    assert!(loader.reload().await.expect("304").is_none(), "unchanged");
    let html = loader.reload().await.expect_err("HTML is not a spec");
    assert!(matches!(html, SpecError::Downloaded { .. }), "{html}");
    let down = loader.reload().await.expect_err("500");
    assert!(
        matches!(&down, SpecError::Unreachable { reason, .. } if reason.contains("500")),
        "{down}"
    );
    assert_eq!(
        cached_document(&cache),
        SPEC_V1,
        "failed reloads leave the cache alone"
    );
    let new = loader.reload().await.expect("v2").expect("changed");
    assert_eq!(new.title(), "Two");
    assert_eq!(cached_document(&cache), SPEC_V2);
    server.join().expect("server finished");
}

#[tokio::test]
async fn a_download_reports_its_progress() {
    let cache = scratch_dir("progress");
    let (url, server) = serve(vec![http_response("200 OK", SPEC_V1)]);
    let reports: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = reports.clone();
    let loader = url_loader(&url, &cache).with_progress(Arc::new(move |progress| {
        sink.lock().expect("reports").push(progress);
    }));
    loader.load().await.expect("downloaded");
    server.join().expect("server finished");
    let reports = reports.lock().expect("reports");
    let last = reports.last().expect("at least the final report");
    assert!(last.finished);
    assert_eq!(last.received, SPEC_V1.len() as u64);
    assert_eq!(last.total, Some(SPEC_V1.len() as u64));
}

#[tokio::test]
async fn an_unreachable_url_without_a_cache_says_what_to_do() {
    let cache = scratch_dir("empty-cache");
    let (url, server) = serve(vec![http_response("404 Not Found", "no such spec")]);
    let error = url_loader(&url, &cache)
        .load()
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

#[tokio::test]
async fn an_html_page_without_a_cache_is_an_error_that_names_the_url() {
    let cache = scratch_dir("html-no-cache");
    let (url, server) = serve(vec![http_response("200 OK", HTML)]);
    let error = url_loader(&url, &cache)
        .load()
        .await
        .expect_err("not a spec");
    server.join().expect("server finished");
    assert!(matches!(error, SpecError::Downloaded { .. }), "{error}");
    assert!(error.to_string().contains(&url), "{error}");
    assert!(cached_files(&cache).is_empty(), "nothing cached");
}

//! The credential store on disk: round trips, encryption at rest and refusal of the wrong key
//! or altered rows.

use std::path::{Path, PathBuf};

use codemode_credentials::{CredentialStore, CredentialsError, ServerKey};
use rusqlite::{Connection, params};

const TOKEN: &str = "cf-token-Zq9X3vLr8sPqYt2Wm5Nc7Hb4Jd6Kf1Ga";

fn key(byte: u8) -> ServerKey {
    ServerKey::parse(&format!("{byte:02x}").repeat(32)).expect("valid hex")
}

fn store_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("credentials.sqlite")
}

/// Runs `sql` with `params` directly on the database file, as someone with disk access could.
fn raw_sql(path: &Path, sql: &str, values: impl rusqlite::Params) {
    Connection::open(path)
        .expect("raw open")
        .execute(sql, values)
        .expect("raw statement");
}

#[test]
fn credentials_round_trip_and_are_listed_and_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CredentialStore::open(store_path(&dir), &key(1)).expect("open");
    assert!(store.get("alice").expect("get").is_none());
    store.set("alice", TOKEN).expect("set");
    store.set("bob", "first").expect("set");
    store.set("bob", "second").expect("replace");
    assert_eq!(
        store.get("alice").expect("get").expect("stored").expose(),
        TOKEN
    );
    assert_eq!(
        store.get("bob").expect("get").expect("stored").expose(),
        "second"
    );
    assert_eq!(store.subjects().expect("subjects"), ["alice", "bob"]);
    assert!(store.remove("bob").expect("remove"));
    assert!(!store.remove("bob").expect("second remove"));
    assert_eq!(store.subjects().expect("subjects"), ["alice"]);

    drop(store);
    let reopened = CredentialStore::open(store_path(&dir), &key(1)).expect("reopen");
    assert_eq!(
        reopened.get("alice").expect("get").expect("kept").expose(),
        TOKEN
    );
}

#[test]
fn the_file_never_holds_the_plaintext() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = store_path(&dir);
    let store = CredentialStore::open(&path, &key(2)).expect("open");
    store.set("alice", TOKEN).expect("set");
    drop(store);
    let bytes = std::fs::read(&path).expect("read file");
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"alice"), "the subject is stored in the clear");
    assert!(!contains(TOKEN.as_bytes()), "the credential is not");
    assert!(!contains(&TOKEN.as_bytes()[..12]), "not even a part of it");
}

#[test]
fn secrets_do_not_show_in_debug_or_display() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CredentialStore::open(store_path(&dir), &key(3)).expect("open");
    store.set("alice", TOKEN).expect("set");
    let secret = store.get("alice").expect("get").expect("stored");
    assert!(!format!("{secret:?} {secret}").contains("cf-token"));
}

#[test]
fn the_wrong_key_is_refused_at_open_without_showing_either_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CredentialStore::open(store_path(&dir), &key(4)).expect("open");
    store.set("alice", TOKEN).expect("set");
    drop(store);
    let Err(error) = CredentialStore::open(store_path(&dir), &key(5)) else {
        panic!("opened with the wrong key");
    };
    assert!(matches!(error, CredentialsError::WrongKey(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("cannot decrypt: wrong credentials key?"),
        "{message}"
    );
    assert!(
        !message.contains("0404") && !message.contains("0505"),
        "{message}"
    );
}

#[test]
fn a_row_sealed_under_another_key_fails_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = store_path(&dir);
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other_path = store_path(&other_dir);
    CredentialStore::open(&path, &key(6)).expect("open");
    CredentialStore::open(&other_path, &key(7))
        .expect("open other")
        .set("alice", TOKEN)
        .expect("set");
    let connection = Connection::open(&path).expect("raw open");
    connection
        .execute(
            "ATTACH DATABASE ?1 AS other",
            params![other_path.to_string_lossy()],
        )
        .expect("attach");
    connection
        .execute(
            "INSERT INTO credentials SELECT * FROM other.credentials",
            [],
        )
        .expect("copy row");
    drop(connection);
    let store = CredentialStore::open(&path, &key(6)).expect("reopen");
    let error = store.get("alice").expect_err("foreign row");
    assert!(matches!(&error, CredentialsError::Undecryptable(s) if s == "alice"));
    assert!(
        error.to_string().contains("wrong credentials key"),
        "{error}"
    );
}

#[test]
fn a_tampered_ciphertext_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = store_path(&dir);
    let store = CredentialStore::open(&path, &key(8)).expect("open");
    store.set("alice", TOKEN).expect("set");
    let connection = Connection::open(&path).expect("raw open");
    let mut ciphertext: Vec<u8> = connection
        .query_row(
            "SELECT ciphertext FROM credentials WHERE subject = 'alice'",
            [],
            |row| row.get(0),
        )
        .expect("row");
    ciphertext[0] ^= 1;
    connection
        .execute(
            "UPDATE credentials SET ciphertext = ?1 WHERE subject = 'alice'",
            params![ciphertext],
        )
        .expect("tamper");
    assert!(matches!(
        store.get("alice"),
        Err(CredentialsError::Undecryptable(_))
    ));
}

#[test]
fn a_row_moved_to_another_subject_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = store_path(&dir);
    let store = CredentialStore::open(&path, &key(9)).expect("open");
    store.set("alice", TOKEN).expect("set");
    store.set("mallory", "mallory-token").expect("set");
    raw_sql(
        &path,
        "UPDATE credentials SET (nonce, ciphertext) =
             (SELECT nonce, ciphertext FROM credentials WHERE subject = 'alice')
         WHERE subject = 'mallory'",
        [],
    );
    assert!(matches!(
        store.get("mallory"),
        Err(CredentialsError::Undecryptable(s)) if s == "mallory"
    ));
    assert_eq!(
        store.get("alice").expect("get").expect("stored").expose(),
        TOKEN
    );
}

#[test]
fn empty_subjects_and_secrets_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CredentialStore::open(store_path(&dir), &key(10)).expect("open");
    assert!(matches!(
        store.set("", TOKEN),
        Err(CredentialsError::EmptySubject)
    ));
    assert!(matches!(
        store.set("alice", ""),
        Err(CredentialsError::EmptySecret)
    ));
}

#[cfg(unix)]
#[test]
fn a_new_store_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = store_path(&dir);
    CredentialStore::open(&path, &key(11)).expect("open");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

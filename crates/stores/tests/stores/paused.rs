//! Paused-call records in Redis: saved through one handle (replica), taken once through
//! another, gone after their expiry, and kept apart by prefix.

use std::time::Duration;

use codemode_audit::{PausedStore, Timestamp};
use codemode_stores::RedisPausedStore;

use crate::{server_url, unique};

fn replica(prefix: &str) -> RedisPausedStore {
    RedisPausedStore::connect(&server_url("CODEMODE_TEST_REDIS_URL"), prefix)
        .expect("Redis answers")
}

#[test]
fn a_record_saved_on_one_replica_is_taken_once_on_another() {
    let prefix = format!("{}:", unique("paused"));
    let (a, b) = (replica(&prefix), replica(&prefix));
    let now = Timestamp::now();
    let later = now.saturating_add(Duration::from_secs(600));
    a.save("call-1", b"first", later).unwrap();
    a.save("call-1", b"second", later).unwrap();
    assert_eq!(
        b.take("call-1", now).unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(a.take("call-1", now).unwrap(), None, "taken once");
    assert_eq!(b.take("call-1", now).unwrap(), None, "taken once");

    a.save("call-2", b"gone", later).unwrap();
    b.delete("call-2").unwrap();
    assert_eq!(a.take("call-2", now).unwrap(), None);

    let other = replica(&format!("{}:", unique("paused")));
    a.save("call-3", b"mine", later).unwrap();
    assert_eq!(
        other.take("call-3", now).unwrap(),
        None,
        "another prefix sees nothing"
    );
    assert_eq!(
        b.take("call-3", now).unwrap().as_deref(),
        Some(&b"mine"[..])
    );
}

#[test]
fn a_record_expires_with_its_request_state() {
    let prefix = format!("{}:", unique("paused"));
    let store = replica(&prefix);
    let soon = Timestamp::now().saturating_add(Duration::from_millis(50));
    store.save("brief", b"record", soon).unwrap();
    // Redis drops the key at `soon`; wait past it on Redis's own clock.
    while Timestamp::now() <= soon.saturating_add(Duration::from_millis(20)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(store.take("brief", Timestamp::now()).unwrap(), None);
}

#[test]
fn many_replicas_racing_for_one_record_get_it_once() {
    let prefix = format!("{}:", unique("paused"));
    let later = Timestamp::now().saturating_add(Duration::from_secs(600));
    replica(&prefix).save("raced", b"record", later).unwrap();
    let stores: Vec<_> = (0..8).map(|_| replica(&prefix)).collect();
    let taken = std::thread::scope(|scope| {
        let racing: Vec<_> = stores
            .iter()
            .map(|store| scope.spawn(move || store.take("raced", Timestamp::now()).unwrap()))
            .collect();
        racing.into_iter().filter_map(|t| t.join().unwrap()).count()
    });
    assert_eq!(taken, 1);
}

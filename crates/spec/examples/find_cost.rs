//! What one `Spec::find` costs, in process: loads a spec, runs everyday task phrasings many
//! times each, and prints the median and the 99th percentile per call.
//!
//! ```sh
//! cargo run --release -p codemode-spec --example find_cost -- ../shared/specs/cloudflare-openapi-2024-08.json
//! ```

use std::time::Instant;

use codemode_spec::{FindOptions, Spec};

/// Task phrasings of the kind agents send.
const QUERIES: &[&str] = &[
    "list my zones",
    "create a DNS record for example.com",
    "delete a worker script",
    "which KV namespaces do I have",
    "create an R2 bucket",
    "purge the cache of a zone",
    "list the members of my account",
    "update the SSL setting of a zone",
    "query a D1 database with SQL",
    "show the firewall rules",
];

/// Calls timed per query.
const ROUNDS: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: find_cost <spec.json>")?;
    let spec = Spec::from_bytes(&std::fs::read(&path)?)?;
    let options = FindOptions::default();
    let mut micros = Vec::with_capacity(QUERIES.len() * ROUNDS);
    for _ in 0..ROUNDS {
        for query in QUERIES {
            let start = Instant::now();
            std::hint::black_box(spec.find(query, &options));
            micros.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
    println!(
        "spec.find over {} operations: {} calls, median {:.1} µs, p99 {:.1} µs",
        spec.operations().len(),
        micros.len(),
        at(0.5),
        at(0.99)
    );
    Ok(())
}

//! The agent code every measurement runs, one source for all clients.

/// The least a call can do: its time is the per-call overhead.
pub const TRIVIAL: &str = "async () => 1";

/// The documented search, returning its full list: iterate every operation, filter by tag,
/// return `{method, path, summary}` of each hit (about 18 KB of JSON on the Cloudflare spec).
pub const FULL_SEARCH: &str = r#"async () => {
  const hits = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (op.tags.includes("workers")) hits.push({ method, path, summary: op.summary });
    }
  }
  return hits;
}"#;

/// A typical small search: look one operation up.
pub const SMALL_SEARCH: &str = r#"async () => spec.paths["/zones/{zone_id}"].get.summary"#;

/// An execute making one request that the loopback API answers at once.
pub const ONE_REQUEST: &str =
    r#"async () => (await cloudflare.request({ method: "GET", path: "/zones/zone1" })).result.id"#;

/// An execute making one request that the loopback API answers after its slow delay.
pub const SLOW_REQUEST: &str =
    r#"async () => (await cloudflare.request({ method: "GET", path: "/zones/slow" })).result.id"#;

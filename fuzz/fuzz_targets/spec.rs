//! The spec loader and `$ref` resolver: any bytes, JSON or YAML, load or are refused with an
//! error, and a loaded spec's operations index into a route table that finds each of them.
#![no_main]

use codemode_spec::Spec;
use codemode_upstream::RouteTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = Spec::from_bytes(data) else {
        return;
    };
    let routes = RouteTable::new(spec.operations());
    assert_eq!(routes.len(), spec.operations().len());
    for operation in spec.operations() {
        let segments: Vec<&str> = operation.path.trim_start_matches('/').split('/').collect();
        routes.find(operation.method, &segments);
        routes.methods_for(&segments);
    }
    let _ = spec.stats().to_string();
});

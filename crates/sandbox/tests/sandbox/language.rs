//! The language as agent code sees it: where the vendored QuickJS takes a fast path of its own
//! (`vendor/rquickjs-sys/README.md`), the answer is the one the general path gives, in every
//! case the fast path must leave to it.

use crate::common::{pool, small_view, value};
use codemode_sandbox::CancelToken;
use serde_json::{Value, json};

/// Runs each case's code as `async () => code` on one pool and checks its result.
async fn check(cases: impl IntoIterator<Item = (String, Value)>) {
    let pool = pool(small_view(), 1);
    for (code, expected) in cases {
        let code = format!("async () => {code}");
        let result = pool
            .search(&code, CancelToken::new())
            .await
            .map(value)
            .unwrap_or_else(|error| panic!("{code} failed: {error}"));
        assert_eq!(result, expected, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_keys_values_and_entries_follow_the_language_order_and_filters() {
    let cases = [
        // Plain objects: insertion order, the fast path.
        (
            "Object.entries({ b: 1, a: [2], c: { d: 3 } })",
            json!([["b", 1], ["a", [2]], ["c", { "d": 3 }]]),
        ),
        ("Object.keys({ b: 1, a: 2 })", json!(["b", "a"])),
        ("Object.values({ b: 1, a: 2 })", json!([1, 2])),
        ("Object.entries({})", json!([])),
        // Deleted and re-added keys.
        (
            "(() => { const o = { a: 1, b: 2, c: 3 }; delete o.b; o.b = 4; return Object.entries(o); })()",
            json!([["a", 1], ["c", 3], ["b", 4]]),
        ),
        // Array-index keys come first, in numeric order, including those past 2^31.
        (
            "Object.keys({ b: 1, 2: 1, a: 1, 1: 1, '4294967294': 1, '4294967295': 1 })",
            json!(["1", "2", "4294967294", "b", "a", "4294967295"]),
        ),
        // Symbols and non-enumerable keys are left out.
        (
            "(() => { const o = { a: 1, [Symbol('s')]: 2 }; Object.defineProperty(o, 'hidden', { value: 3, enumerable: false }); o.z = 4; return Object.entries(o); })()",
            json!([["a", 1], ["z", 4]]),
        ),
        // A getter runs, and what it deletes or hides before its turn is not listed.
        (
            "(() => { const o = { get a() { delete this.b; Object.defineProperty(this, 'c', { enumerable: false }); return 1; }, b: 2, c: 3, d: 4 }; return Object.entries(o); })()",
            json!([["a", 1], ["d", 4]]),
        ),
        (
            "Object.values({ get a() { return 'got'; }, b: 2 })",
            json!(["got", 2]),
        ),
        // Keys of a getter-bearing object, without running it.
        (
            "(() => { let ran = false; const o = { get a() { ran = true; return 1; }, b: 2 }; return [Object.keys(o), ran]; })()",
            json!([["a", "b"], false]),
        ),
        // Objects that are not plain.
        (
            "Object.entries(['x', , 'z'])",
            json!([["0", "x"], ["2", "z"]]),
        ),
        ("Object.entries('ab')", json!([["0", "a"], ["1", "b"]])),
        (
            "Object.keys(Object.assign(function f() {}, { own: 1 }))",
            json!(["own"]),
        ),
        (
            "Object.entries(new Proxy({ a: 1 }, { ownKeys: () => ['b', 'a'], get: (_, key) => key + '!', getOwnPropertyDescriptor: (_, key) => ({ value: key + '!', enumerable: true, configurable: true }) }))",
            json!([["b", "b!"], ["a", "a!"]]),
        ),
        (
            "(() => { class C { constructor() { this.x = 1; this.y = 2; } get z() { return 3; } } return Object.entries(new C()); })()",
            json!([["x", 1], ["y", 2]]),
        ),
        (
            "Object.keys(Object.create({ inherited: 1 }, { own: { value: 2, enumerable: true } }))",
            json!(["own"]),
        ),
        ("Object.entries(Math).length", json!(0)),
        // The frozen spec, whose objects share shapes.
        (
            "Object.entries(spec.paths['/zones/{zone_id}/dns_records']).map(([method, op]) => [method, op.operationId])",
            json!([["get", "dns-list"], ["post", "dns-create"]]),
        ),
    ];
    check(cases.map(|(code, expected)| (code.to_owned(), expected))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_iteration_sees_the_array_as_it_changes() {
    let cases = [
        ("[...[1, 2, 3]]", json!([1, 2, 3])),
        ("[...[1, , 3]]", json!([1, null, 3])),
        ("[...['a', 'b'].entries()]", json!([[0, "a"], [1, "b"]])),
        ("[...['a', 'b'].keys()]", json!([0, 1])),
        ("[...['a', 'b'].values()]", json!(["a", "b"])),
        // Growing while iterated: the new elements are reached.
        (
            "(() => { const a = [1, 2], seen = []; for (const x of a) { if (a.length < 4) a.push(x * 10); seen.push(x); } return seen; })()",
            json!([1, 2, 10, 20]),
        ),
        // Shrinking while iterated: iteration stops at the new length.
        (
            "(() => { const a = [1, 2, 3, 4], seen = []; for (const x of a) { seen.push(x); if (x === 2) a.length = 2; } return seen; })()",
            json!([1, 2]),
        ),
        // A length past the elements: the rest reads as undefined.
        (
            "(() => { const a = [1, 2]; a.length = 4; return [...a].map(x => x === undefined ? 'hole' : x); })()",
            json!([1, 2, "hole", "hole"]),
        ),
        // An element changed ahead of the iterator is read as it is then.
        (
            "(() => { const a = [1, 2, 3], seen = []; for (const x of a) { a[2] = 'changed'; seen.push(x); } return seen; })()",
            json!([1, 2, "changed"]),
        ),
        // Destructuring takes what it needs, and leaves an iterator closed.
        (
            "(() => { const [a, b] = [1, 2, 3]; const [c, , d = 'default'] = [4]; return [a, b, c, d]; })()",
            json!([1, 2, 4, "default"]),
        ),
        // Array-likes and typed arrays.
        (
            "[...Array.prototype.values.call({ length: 2, 0: 'x', 1: 'y' })]",
            json!(["x", "y"]),
        ),
        ("[...new Uint8Array([7, 8])]", json!([7, 8])),
        // An iterator taken from a frozen spec array.
        (
            "[...spec.paths['/zones'].get.tags.entries()]",
            json!([[0, "Zones"]]),
        ),
        ("[...spec.paths['/zones'].get.tags]", json!(["Zones"])),
        ("[...'ab']", json!(["a", "b"])),
        (
            "(() => { const a = ['x', 'y']; a[Symbol.iterator] = Array.prototype.keys; return [...a]; })()",
            json!([0, 1]),
        ),
        (
            "(() => { const seen = []; for (const [i, x] of ['a', 'b'].entries()) seen.push(i, x); return seen; })()",
            json!([0, "a", 1, "b"]),
        ),
        // The iteration protocol, replaced, is used.
        (
            "(() => { const a = [1, 2]; a[Symbol.iterator] = function* () { yield 'own'; }; return [...a]; })()",
            json!(["own"]),
        ),
        (
            "(() => { const proto = Object.getPrototypeOf([][Symbol.iterator]()); const next = proto.next; proto.next = function () { const r = next.call(this); if (!r.done) r.value *= 100; return r; }; return [...[1, 2]]; })()",
            json!([100, 200]),
        ),
    ];
    check(cases.map(|(code, expected)| (code.to_owned(), expected))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_of_and_destructuring_keep_the_iteration_protocol() {
    // `P` is %ArrayIteratorPrototype%; each case runs in a fresh realm, so what one replaces
    // the next does not see.
    let proto = "const P = Object.getPrototypeOf([][Symbol.iterator]()); const log = [];";
    let cases = [
        // `next` is read once, before the loop: replaced before, it is used; during, it is not.
        (
            "P.next = function () { return { done: log.length > 1, value: log.push('own') }; }; for (const x of [7]) log.push(x); return log;",
            json!(["own", 1, "own"]),
        ),
        (
            "for (const x of [1, 2, 3]) { P.next = () => ({ done: true }); log.push(x); } return log;",
            json!([1, 2, 3]),
        ),
        (
            "Array.prototype[Symbol.iterator] = function* () { yield 'replaced'; }; for (const x of [1]) log.push(x); const [a] = [2]; return [...log, a];",
            json!(["replaced", "replaced"]),
        ),
        // Holes, getters and deletions read as the iterator would read them.
        (
            "Array.prototype[1] = 'inherited'; for (const x of [0, , 2]) log.push(x); return log;",
            json!([0, "inherited", 2]),
        ),
        (
            "const a = [1, 2, 3]; for (const x of a) { if (x === 1) delete a[1]; log.push(x === undefined ? 'hole' : x); } return log;",
            json!([1, "hole", 3]),
        ),
        (
            "const a = [1, 2]; for (const x of a) { if (x === 1) Object.defineProperty(a, 1, { get() { return 'got'; } }); log.push(x); } return log;",
            json!([1, "got"]),
        ),
        (
            "for (const x of new Proxy([1, 2], {})) log.push(x); return log;",
            json!([1, 2]),
        ),
        // Leaving early closes the iterator through a `return` found on its prototypes, with
        // `this` the iterator, where the loop left it.
        (
            "P.return = function () { log.push(this.next().value); return {}; }; for (const x of ['a', 'b', 'c']) if (x === 'a') break; return log;",
            json!(["b"]),
        ),
        (
            "Object.prototype.return = function () { log.push('closed'); return {}; }; const [a] = [1, 2]; const [b, c] = [3, 4]; const [d, e] = [5]; for (const x of [6, 7]) continue; return log;",
            json!(["closed", "closed"]),
        ),
        (
            "Object.defineProperty(P, 'return', { get() { log.push(this === P ? 'prototype' : 'iterator'); } }); for (const x of [1]) break; return log;",
            json!(["iterator"]),
        ),
        (
            "P.return = function () { log.push('closed'); return {}; }; outer: for (const x of [1, 2]) for (const y of [3, 4]) break outer; return log;",
            json!(["closed", "closed"]),
        ),
        (
            "P.return = () => 1; try { for (const x of [1]) break; } catch (e) { return e instanceof TypeError; } return false;",
            json!(true),
        ),
        // A throw closes it too, and is what propagates; a throwing `next` does not close it.
        (
            "P.return = function () { log.push('closed'); throw new Error('from return'); }; try { for (const x of [1]) throw new Error('body'); } catch (e) { log.push(e.message); } return log;",
            json!(["closed", "body"]),
        ),
        (
            "P.return = function () { log.push('closed'); return {}; }; const a = [1, 2]; Object.defineProperty(a, 1, { get() { throw new Error('getter'); } }); try { for (const x of a) log.push(x); } catch (e) { log.push(e.message); } return log;",
            json!([1, "getter"]),
        ),
        (
            "P.return = function () { log.push('closed'); return {}; }; try { const [a = (() => { throw new Error('default'); })()] = []; } catch (e) { log.push(e.message); } try { const [{ b }] = [null]; } catch (e) { log.push(e.constructor.name); } return log;",
            json!(["default", "closed", "TypeError"]),
        ),
        // Generators: a suspended loop closes on return(), and yield* hands out the iterator.
        (
            "P.return = function () { log.push('closed'); return {}; }; function* g() { for (const x of [1, 2, 3]) yield x; } const it = g(); it.next(); it.return(); return log;",
            json!(["closed"]),
        ),
        (
            "function* g() { yield* [1, 2]; return 'end'; } const it = g(); return [it.next(), it.next(), it.next(), [...g()]];",
            json!([{ "value": 1, "done": false }, { "value": 2, "done": false }, { "value": "end", "done": true }, [1, 2]]),
        ),
        (
            "P.return = function () { log.push(this.next().value); return { done: true, value: 'r' }; }; function* g() { yield* ['a', 'b', 'c']; } const it = g(); it.next(); return [it.return('x'), log];",
            json!([{ "value": "r", "done": true }, ["b"]]),
        ),
        // Nested patterns and rest elements.
        (
            "const [[a, b], ...rest] = [[1, 2], 3, 4]; const [, ...none] = [5]; return [a, b, rest, none];",
            json!([1, 2, [3, 4], []]),
        ),
    ];
    check(cases.map(|(body, expected)| (format!("{{ {proto} {body} }}"), expected))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elements_of_arrays_that_are_not_fast_read_as_the_language_says() {
    let cases = [
        // The spec's arrays are frozen, which QuickJS stores as ordinary objects.
        ("spec.paths['/zones'].get.tags[0]", json!("Zones")),
        (
            "[spec.paths['/zones'].get.tags.includes('Zones'), spec.paths['/zones'].get.tags.indexOf('Zones'), spec.paths['/zones'].get.tags[1] === undefined]",
            json!([true, 0, true]),
        ),
        (
            "(() => { const a = Object.freeze(['a', { k: 1 }, 3]); return [a[1].k, a.includes(3), a.indexOf('a'), a.map(x => typeof x), a.at(-1)]; })()",
            json!([1, true, 0, ["string", "object", "number"], 3]),
        ),
        (
            "(() => { const a = Object.freeze([NaN, -0, 1, 2]); return [a.includes(NaN), a.includes(0), a.includes(1, 3), a.includes(2, -1), a.includes('1')]; })()",
            json!([true, true, false, true, false]),
        ),
        // Holes read through the prototype; accessors run.
        (
            "(() => { Array.prototype[1] = 'inherited'; const a = Object.freeze(['x', , 'z']); return [a[1], a.includes('inherited'), a.indexOf('inherited'), Object.keys(a)]; })()",
            json!(["inherited", true, 1, ["0", "2"]]),
        ),
        (
            "(() => { const a = [1, 2]; Object.defineProperty(a, 0, { get() { return 'got'; } }); return [a[0], a[1], a.includes('got')]; })()",
            json!(["got", 2, true]),
        ),
        // Indexes past 2^31 - 1, negative ones, and other indexed objects.
        (
            "(() => { const a = Object.freeze(Object.assign([], { 2147483648: 'big', 0: 'zero' })); return [a[2147483648], a[0], a[-1] === undefined, a.length]; })()",
            json!(["big", "zero", true, 2147483649u64]),
        ),
        (
            "(function () { return [arguments[0], arguments[5] === undefined]; })('a')",
            json!(["a", true]),
        ),
    ];
    check(cases.map(|(code, expected)| (code.to_owned(), expected))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_strings_are_escaped_as_the_language_says() {
    // The expected texts are V8's.
    let cases = [
        (
            r#"JSON.stringify(["", "plain", "q\"uote", "back\\slash", "tab\tnl\ncr\rbs\bff\f", "\u0000\u001f\u007f", "caf\u00e9 \u00ff"])"#,
            "[\"\",\"plain\",\"q\\\"uote\",\"back\\\\slash\",\"tab\\tnl\\ncr\\rbs\\bff\\f\",\"\\u0000\\u001f\u{7f}\",\"café ÿ\"]",
        ),
        (
            r#"JSON.stringify({ "k\"ey": "v\u0001", "\u00e9": 1 })"#,
            "{\"k\\\"ey\":\"v\\u0001\",\"é\":1}",
        ),
        (
            r#"JSON.stringify(["wide \u2603 \ud83d\ude00", "lone \ud800 \udfff", "mix\u00e9\u2603\""])"#,
            "[\"wide ☃ 😀\",\"lone \\ud800 \\udfff\",\"mixé☃\\\"\"]",
        ),
        // Strings built by concatenation (ropes), as keys and as values, and keys that are
        // not plain identifiers.
        (
            r#"(() => { const k = 'k'.repeat(30) + '"' + 'k'.repeat(30); return JSON.stringify({ [k]: 'v'.repeat(40) + '\n' + 'w'.repeat(40), 1: [k + k] }); })()"#,
            "{\"1\":[\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\\\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\\\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\"],\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\\\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\\nwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww\"}",
        ),
    ];
    check(cases.map(|(code, expected)| (code.to_owned(), json!(expected)))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_lengths_are_read_as_the_language_says() {
    let cases = [
        ("Object.freeze([1, 2, 3]).includes(3)", json!(true)),
        (
            "(() => { const a = [1]; a.length = 3; return [JSON.stringify(a), a.includes(undefined), a.indexOf(1)]; })()",
            json!(["[1,null,null]", true, 0]),
        ),
        (
            "(() => { const a = [, 'x']; return [JSON.stringify(a), Object.freeze(a).includes('x')]; })()",
            json!(["[null,\"x\"]", true]),
        ),
        // A length past 2^31 is not an int: the general path reads it.
        (
            "(() => { const a = []; a.length = 2 ** 32 - 1; return [a.length, a.lastIndexOf(1, -(2 ** 32) + 2)]; })()",
            json!([4_294_967_295_u64, -1]),
        ),
        // Something that is not an array goes the general way, getters included.
        (
            "Array.prototype.includes.call({ get length() { return 2; }, 0: 'a', 1: 'b' }, 'b')",
            json!(true),
        ),
    ];
    check(cases.map(|(code, expected)| (code.to_owned(), expected))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrays_iterator_is_looked_up_with_the_array_as_receiver() {
    let cases = [
        // A getter on Array.prototype sees the array as `this`.
        (
            "(() => { const d = Object.getOwnPropertyDescriptor(Array.prototype, Symbol.iterator); let seen; Object.defineProperty(Array.prototype, Symbol.iterator, { configurable: true, get() { seen = this; return d.value; } }); const a = [1, 2]; const out = []; for (const x of a) out.push(x); const [first] = a; return [out, first, seen === a]; })()",
            json!([[1, 2], 1, true]),
        ),
        // An array's own iterator wins over the prototype's.
        (
            "(() => { const a = [1, 2]; a[Symbol.iterator] = function* () { yield 'own'; }; const out = []; for (const x of a) out.push(x); return out; })()",
            json!(["own"]),
        ),
        // A replaced prototype iterator is used.
        (
            "(() => { Array.prototype[Symbol.iterator] = function* () { yield 'replaced'; }; const [x] = [1]; return x; })()",
            json!("replaced"),
        ),
    ];
    check(cases.map(|(code, expected)| (code.to_owned(), expected))).await;
}

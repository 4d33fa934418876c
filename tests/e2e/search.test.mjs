// `search` over Streamable HTTP with the official TypeScript SDK, on the shared Cloudflare spec.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, connectHttp, call, writeConfig } from "./lib/codemode.mjs";
import { startFakeCloudflare, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";

let server, client, api;

before(async () => {
  api = await startFakeCloudflare();
  const config = writeConfig(`
[sandbox]
search_timeout_secs = 5
code_kib = 8
`);
  server = await startServer({ apiBase: api.base, args: ["--config", config] });
  client = await connectHttp(server.url);
});

after(async () => {
  await client?.close();
  await server?.stop();
  await api?.close();
  assert.ok(!server.output().includes(TEST_TOKEN), "the token must never appear in the server's output");
});

test("tools/list names both tools with titles and read-only hints", async () => {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ["execute", "search"]);
  const search = tools.find((t) => t.name === "search");
  const execute = tools.find((t) => t.name === "execute");
  assert.equal(search.annotations.readOnlyHint, true);
  assert.equal(execute.annotations.readOnlyHint, false);
  assert.ok(search.title && execute.title);
  assert.match(search.description, /1533 operations/);
  assert.match(search.description, /Products \(104, largest first\): [a-z_]+, /);
  assert.match(execute.description, /cloudflare: \{/);
  assert.deepEqual(search.inputSchema.required, ["code"]);
});

test("the spec has every operation, in the documented shape", async () => {
  const { json, isError, text } = await call(client, "search", {
    code: `async () => {
      let operations = 0; const methods = new Set(); let badKeys = [];
      for (const [path, ops] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          operations++; methods.add(method);
          const extra = Object.keys(op).filter(k => !["summary","description","operationId","tags","parameters","requestBody","responses"].includes(k));
          if (extra.length) badKeys.push(path + " " + method + " " + extra);
        }
      }
      const op = spec.paths["/zones/{zone_id}/dns_records"].get;
      return { paths: Object.keys(spec.paths).length, operations, methods: [...methods].sort(), badKeys,
               tags: op.tags, params: op.parameters.map(p => p.in + ":" + p.name) };
    }`,
  });
  assert.equal(isError, false, text);
  assert.equal(json.paths, 965);
  assert.equal(json.operations, 1533);
  assert.deepEqual(json.methods, ["delete", "get", "patch", "post", "put"]);
  assert.deepEqual(json.badKeys, []);
  assert.equal(json.tags[0], "dns_records");
  assert.ok(json.params.includes("path:zone_id"), "path-level parameters are merged in");
});

test("$refs are resolved in full at every use; only the one true cycle is cut", async () => {
  const { json, isError, text } = await call(client, "search", {
    code: `async () => {
      const seen = new Set(); const markers = new Set(); let refs = 0;
      const walk = (v) => {
        if (v === null || typeof v !== "object" || seen.has(v)) return;
        seen.add(v);
        if (typeof v.$circular === "string") markers.add(v.$circular);
        if ("$ref" in v) refs++;
        for (const k in v) walk(v[k]);
      };
      walk(spec);
      const a = spec.paths["/zones/{zone_id}/dns_records"].get.responses["200"];
      return { markers: [...markers], refs, hasSchema: !!a.content["application/json"].schema };
    }`,
  });
  assert.equal(isError, false, text);
  assert.equal(json.markers.length, 1, `exactly one circular marker target: ${json.markers}`);
  assert.match(json.markers[0], /^#\/components\/schemas\//);
  assert.equal(json.refs, 0, "no $ref is left");
  assert.equal(json.hasSchema, true);
});

test("no state survives between calls", async () => {
  const first = await call(client, "search", {
    code: `async () => {
      globalThis.leak = 1; Object.prototype.polluted = 1; Array.prototype.extra = () => 1;
      const attempts = [];
      for (const f of [
        () => { spec.paths = {}; },
        () => { delete spec.paths["/zones"]; },
        () => { spec.paths["/zones"].get.summary = "changed"; },
        () => { Object.getPrototypeOf(spec).polluted2 = 1; },
        () => { Object.getPrototypeOf(spec.paths["/zones"].get.tags).extra2 = 1; },
        () => { spec.constructor.constructor("globalThis.leak3 = 1")(); },
      ]) { try { f(); attempts.push("ok"); } catch (e) { attempts.push("refused"); } }
      return attempts;
    }`,
  });
  assert.equal(first.isError, false, first.text);
  const second = await call(client, "search", {
    code: `async () => {
      let leak3ViaSpec;
      try { leak3ViaSpec = spec.constructor.constructor("return typeof globalThis.leak3")(); }
      catch (e) { leak3ViaSpec = "refused"; }
      return {
        leak: typeof leak, polluted: typeof ({}).polluted, extra: typeof [].extra,
        polluted2: typeof ({}).polluted2, polluted2OnSpec: typeof spec.polluted2,
        extra2: typeof spec.paths["/zones"].get.tags.extra2, leak3: typeof globalThis.leak3, leak3ViaSpec,
        summary: spec.paths["/zones"].get.summary, paths: Object.keys(spec.paths).length,
      };
    }`,
  });
  assert.equal(second.isError, false, second.text);
  const { summary, leak3ViaSpec, ...rest } = second.json;
  assert.deepEqual(rest, {
    leak: "undefined", polluted: "undefined", extra: "undefined", polluted2: "undefined", polluted2OnSpec: "undefined",
    extra2: "undefined", leak3: "undefined", paths: 965,
  });
  assert.ok(["undefined", "refused"].includes(leak3ViaSpec), leak3ViaSpec);
  assert.notEqual(summary, "changed");
});

test("the search sandbox has no host functions and no network", async () => {
  const { json, isError, text } = await call(client, "search", {
    code: `async () => ["fetch","require","process","cloudflare","XMLHttpRequest","Deno","std","os"].filter(n => typeof globalThis[n] !== "undefined")`,
  });
  assert.equal(isError, false, text);
  assert.deepEqual(json, []);
});

test("accepts bare bodies, Markdown fences and TypeScript", async () => {
  const bare = await call(client, "search", { code: `const n = Object.keys(spec.paths).length;\nreturn n;` });
  assert.equal(bare.json, 965, bare.text);
  const fenced = await call(client, "search", { code: "```javascript\nasync () => 1 + 1\n```" });
  assert.equal(fenced.json, 2, fenced.text);
  const ts = await call(client, "search", {
    code: "```ts\ninterface Hit { path: string }\nasync (): Promise<Hit[]> => {\n  const hits: Hit[] = Object.keys(spec.paths).filter((p: string) => p.startsWith('/zones')).map((path) => ({ path } as Hit));\n  return hits.slice(0, 2)!;\n}\n```",
  });
  assert.equal(ts.isError, false, ts.text);
  assert.equal(ts.json.length, 2);
});

test("errors are tool errors with a clear message", async () => {
  const syntax = await call(client, "search", { code: "async () => {\n  const x = ;\n}" });
  assert.equal(syntax.isError, true);
  assert.match(syntax.text, /syntax/i);
  assert.match(syntax.text, /line 2/i);
  const thrown = await call(client, "search", { code: "async () => { throw new Error('boom here') }" });
  assert.equal(thrown.isError, true);
  assert.match(thrown.text, /boom here/);
  const missing = await client.callTool({ name: "search", arguments: {} });
  assert.equal(missing.isError, true);
  assert.match(missing.content[0].text, /code/);
});

test("limits end the call with a clear error and the server keeps serving", async () => {
  const loop = await call(client, "search", { code: "async () => { for (;;) {} }" });
  assert.equal(loop.isError, true);
  assert.match(loop.text, /time/i);
  const bomb = await call(client, "search", { code: "async () => { const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length); }" });
  assert.equal(bomb.isError, true);
  assert.match(bomb.text, /memory/i);
  const deep = await call(client, "search", { code: "async () => { const f = (n) => f(n + 1) + 1; return f(0); }" });
  assert.equal(deep.isError, true);
  assert.match(deep.text, /stack|recursion/i);
  const big = await call(client, "search", { code: `async () => ${"1 + ".repeat(4000)}1` });
  assert.equal(big.isError, true);
  assert.match(big.text, /too (large|long|big)|KiB|bytes/i);
  const after = await call(client, "search", { code: "async () => Object.keys(spec.paths).length" });
  assert.equal(after.json, 965);
});

test("a large result is cut structurally, stays valid JSON and says so", async () => {
  const { raw, text, isError } = await call(client, "search", { code: "async () => spec" });
  assert.equal(isError, false, text.slice(0, 500));
  assert.ok(text.length <= 26_000, `first block is ${text.length} chars`);
  JSON.parse(text);
  const notice = raw.content.slice(1).map((c) => c.text).join("\n");
  assert.match(notice, /truncat|cut/i);
  const list = await call(client, "search", { code: "async () => Object.keys(spec.paths)" });
  const parsed = JSON.parse(list.text);
  assert.ok(Array.isArray(parsed) && parsed.length < 965);
  assert.match(String(parsed.at(-1)), /more/);
});

test("a result is the text JSON.stringify wrote: lone surrogates, key order, number forms", async () => {
  const { text, json, isError } = await call(client, "search", {
    code: String.raw`async () => ({ b: "a\ud800b", a: [1e21, -0, 0.1] })`,
  });
  assert.equal(isError, false, text);
  assert.equal(text, String.raw`{"b":"a\ud800b","a":[1e+21,0,0.1]}`);
  assert.deepEqual(json, { b: "a\ud800b", a: [1e21, 0, 0.1] });
});

test("concurrent searches all complete", async () => {
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => call(client, "search", { code: `async () => ${i} * 2` })),
  );
  assert.deepEqual(results.map((r) => r.json), [0, 2, 4, 6, 8, 10, 12, 14]);
});

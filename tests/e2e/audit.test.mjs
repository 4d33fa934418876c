// The audit log through the real binary: what a record holds, that every answered call is
// committed before its answer (SIGKILL under load), and that `codemode audit verify` catches
// an edited or deleted record.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { connectHttp, call } from "./lib/codemode.mjs";
import { audit, exportedCalls as exported, serverWithAudit, sqlite } from "./lib/audit.mjs";
import { startFakeCloudflare } from "./lib/fake-cloudflare.mjs";

test("a record holds who, what, each upstream request and the outcome, and no secret", async () => {
  const api = await startFakeCloudflare();
  const { server, db } = await serverWithAudit({ apiBase: api.base });
  const client = await connectHttp(server.url, "audit-client");
  await call(client, "search", { code: "async () => Object.keys(spec.paths).length" });
  await call(client, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones", query: { per_page: 5 } })).result.length` });
  await call(client, "execute", { code: "async () => { throw new Error('boom') }" });
  await client.close();
  await server.stop();
  await api.close();
  const records = exported(db);
  assert.equal(records.length, 3);
  const [search, execute, failed] = records;
  assert.equal(search.tool, "search");
  assert.equal(search.subject, "local");
  assert.equal(search.client, "audit-client");
  assert.match(search.code_sha256, /^[0-9a-f]{64}$/);
  assert.equal(search.outcome, "ok");
  assert.equal(execute.tool, "execute");
  assert.match(execute.code, /cloudflare\.request/);
  assert.deepEqual(
    execute.requests.map((r) => [r.method, r.template, r.path, r.status, r.decision.kind]),
    [["GET", "/zones", "/zones", 200, "allow"]],
  );
  assert.ok(execute.result_chars > 0);
  assert.ok(execute.session, "the session is recorded");
  assert.equal(failed.outcome, "error");
  assert.equal(failed.error_kind, "thrown");
  for (const record of records) assert.match(record.hash, /^[0-9a-f]{64}$/);
  const raw = execFileSync("cat", [db], { encoding: "latin1" });
  assert.ok(!raw.includes("cf-test-token"), "the upstream token is not in the audit database");
});

test("SIGKILL under load loses no answered call", async () => {
  const { server, db } = await serverWithAudit({ args: ["--demo"], spec: null, token: null });
  const answered = new Set();
  const clients = await Promise.all([0, 1, 2].map((i) => connectHttp(server.url, `load-${i}`)));
  let stop = false;
  const workers = clients.map((client, w) => (async () => {
    for (let i = 0; !stop && i < 200; i++) {
      const marker = `call-${w}-${i}`;
      try {
        const result = await call(client, i % 2 ? "search" : "execute", { code: `async () => "${marker}"` });
        if (result.json === marker) answered.add(marker);
      } catch {
        return; // the server is gone
      }
    }
  })());
  await new Promise((r) => setTimeout(r, 1500));
  server.child.kill("SIGKILL");
  stop = true;
  await Promise.all(workers);
  await new Promise((resolve) => (server.child.exitCode !== null || server.child.signalCode ? resolve() : server.child.once("exit", resolve)));
  assert.ok(answered.size > 20, `only ${answered.size} calls were answered before the kill`);
  const recorded = new Set(exported(db).map((r) => r.code.match(/call-\d+-\d+/)?.[0]));
  const missing = [...answered].filter((m) => !recorded.has(m));
  assert.deepEqual(missing, [], "every answered call is in the audit log");
  const verify = audit(db, ["verify"]);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
});

test("audit verify detects an edited and a deleted record", async () => {
  const { server, db } = await serverWithAudit({ args: ["--demo"], spec: null, token: null });
  const client = await connectHttp(server.url);
  for (let i = 0; i < 4; i++) await call(client, "search", { code: `async () => ${i}` });
  await client.close();
  await server.stop();
  assert.equal(audit(db, ["verify"]).status, 0);
  sqlite(db, "UPDATE audit_calls SET subject = 'mallory' WHERE id = 2");
  const edited = audit(db, ["verify"]);
  assert.notEqual(edited.status, 0);
  assert.match(edited.stdout + edited.stderr, /\b2\b/);
  sqlite(db, "UPDATE audit_calls SET subject = 'local' WHERE id = 2");
  assert.equal(audit(db, ["verify"]).status, 0, "restoring the row restores the chain");
  sqlite(db, "DELETE FROM audit_calls WHERE id = 3");
  const deleted = audit(db, ["verify"]);
  assert.notEqual(deleted.status, 0);
  assert.match(deleted.stdout + deleted.stderr, /\b3\b|\b4\b/);
});

test("a request the API refused is recorded with the status it answered", async () => {
  const api = await startFakeCloudflare();
  const { server, db } = await serverWithAudit({ apiBase: api.base, token: "not-the-right-token-123" });
  const client = await connectHttp(server.url);
  const refused = await call(client, "execute", { code: `async () => cloudflare.request({ method: "GET", path: "/zones" })` });
  assert.equal(refused.isError, true);
  await client.close();
  await server.stop();
  await api.close();
  const [record] = exported(db);
  assert.deepEqual(record.requests.map((r) => [r.path, r.status]), [["/zones", 401]]);
  assert.ok(!execFileSync("cat", [db], { encoding: "latin1" }).includes("not-the-right-token-123"));
});

// What the audit log keeps when calls end badly, through the real binary and the TS SDK: the
// intent of every upstream request, written before it is sent (a call that times out, parallel
// requests that fail, a server killed mid-request), a refused call's code kept only in part,
// truncation caught with the audit key, and a locked database (SQLite, or a Postgres audit log
// locked, refusing connections or not answering) failing the first call, then later ones at
// once without a write, until freed. The Postgres test needs the server tests/stores/with-servers.sh starts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { connectHttp, call, scratchDir, startServer, writeConfig } from "./lib/codemode.mjs";
import { audit, exportedCalls, exportedEntries, serverWithAudit, sqlite } from "./lib/audit.mjs";
import { startFakeCloudflare, failure } from "./lib/fake-cloudflare.mjs";

const AUDIT_KEY = "5a".repeat(32);
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const intents = (db) => exportedEntries(db).filter((entry) => entry.entry === "request");
/** Resolves once `check()` holds, polling the fake API's record of what reached it. */
const until = async (check) => { while (!check()) await new Promise((r) => setTimeout(r, 20)); };

test("a request in flight when the call times out is in the log, with its intent", async () => {
  const api = await startFakeCloudflare({ routes: { "POST /zones": () => ({ hang: true }) } });
  const { server, db } = await serverWithAudit({ apiBase: api.base, config: "[sandbox]\nexecute_timeout_secs = 1\n" });
  const client = await connectHttp(server.url);
  // The body is built at run time, so that the code (which the log keeps) does not spell it.
  const code = `async () => cloudflare.request({ method: "POST", path: "/zones", body: { name: ["body", "never", "stored"].join("-"), account: { id: "a1" } } })`;
  const result = await call(client, "execute", { code });
  assert.equal(result.isError, true, result.text);
  assert.equal(api.requests.filter((r) => r.path === "/zones").length, 1, "the request reached the API");
  await client.close();
  await server.stop();
  await api.close();

  const [intent] = intents(db);
  assert.deepEqual([intent.method, intent.template, intent.path, intent.subject], ["POST", "/zones", "/zones", "local"]);
  assert.equal(intent.body_sha256, sha256(api.requests[0].body), "the hash of the body as sent");
  const [record] = exportedCalls(db);
  assert.equal(record.error_kind, "timeout");
  assert.equal(record.code_sha256, intent.code_sha256);
  assert.deepEqual(
    record.requests.map((r) => [r.method, r.path, r.status, r.no_answer, r.intent]),
    [["POST", "/zones", null, "timed_out", intent.id]],
  );
  assert.match(api.requests[0].body, /body-never-stored/);
  const files = [db, `${db}-wal`].filter(existsSync).map((file) => readFileSync(file, "latin1")).join("");
  assert.ok(!files.includes("body-never-stored"), "the body is not in the log");
});

test("parallel requests that fail are all listed, answered or not", async () => {
  let arrived = 0;
  let releaseFailure;
  const allSent = new Promise((resolve) => (releaseFailure = resolve));
  const api = await startFakeCloudflare({
    routes: {
      "GET /zones/:zone_id": async (req, body, url, { zone_id }) => {
        if (++arrived === 6) releaseFailure();
        if (zone_id !== "z0") return { hang: true };
        await allSent;
        return { status: 403, json: failure(10000, "forbidden") };
      },
    },
  });
  const { server, db } = await serverWithAudit({ apiBase: api.base });
  const client = await connectHttp(server.url);
  const code = `async () => Promise.all([0, 1, 2, 3, 4, 5].map((n) => cloudflare.request({ method: "GET", path: "/zones/z" + n })))`;
  const result = await call(client, "execute", { code });
  assert.equal(result.isError, true, result.text);
  await client.close();
  await server.stop();
  await api.close();

  const sent = intents(db).map((intent) => intent.path).sort();
  assert.deepEqual(sent, ["/zones/z0", "/zones/z1", "/zones/z2", "/zones/z3", "/zones/z4", "/zones/z5"]);
  const [record] = exportedCalls(db);
  const listed = record.requests.map((r) => [r.path, r.status, r.no_answer ?? null]).sort();
  assert.deepEqual(listed, [
    ["/zones/z0", 403, null],
    ...[1, 2, 3, 4, 5].map((n) => [`/zones/z${n}`, null, "call_ended"]),
  ]);
  const ids = new Set(intents(db).map((intent) => intent.id));
  assert.ok(record.requests.every((r) => ids.has(r.intent)), "each listed request names its intent");
});

test("a server killed between sending a request and its answer leaves the request in the log", async () => {
  const api = await startFakeCloudflare({ routes: { "GET /zones/:zone_id": () => ({ hang: true }) } });
  const { server, db } = await serverWithAudit({ apiBase: api.base });
  const client = await connectHttp(server.url);
  // The call never gets an answer: the server dies first.
  call(client, "execute", { code: `async () => cloudflare.request({ method: "GET", path: "/zones/killed-mid-request" })` }).catch(() => {});
  await until(() => api.requests.some((r) => r.path === "/zones/killed-mid-request"));
  server.child.kill("SIGKILL");
  await new Promise((resolve) => (server.child.exitCode !== null || server.child.signalCode ? resolve() : server.child.once("exit", resolve)));
  await api.close();

  assert.deepEqual(intents(db).map((intent) => [intent.method, intent.path]), [["GET", "/zones/killed-mid-request"]]);
  assert.deepEqual(exportedCalls(db), [], "the call never finished, so only its intent is there");
  const verify = audit(db, ["verify"]);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
});

test("a call refused before it runs keeps only the hash and the start of its code", async () => {
  const { server, db } = await serverWithAudit({ args: ["--demo"], spec: null, token: null });
  const client = await connectHttp(server.url);
  const code = `async () => "refused" /* ${"\u202e\u001b[2J".repeat(10)}${"padding ".repeat(9_000)} */`;
  const result = await call(client, "execute", { code });
  assert.equal(result.isError, true);
  assert.match(result.text, /over the .*limit/);
  await client.close();
  await server.stop();

  const [record] = exportedCalls(db);
  assert.equal(record.error_kind, "code_too_large");
  assert.equal(record.code_sha256, sha256(code));
  assert.equal(record.code_chars, [...code].length);
  assert.equal(record.code, [...code].slice(0, 200).join(""));
  const files = [db, `${db}-wal`].filter(existsSync).map((file) => readFileSync(file, "latin1")).join("");
  assert.ok(!files.includes("padding ".repeat(30)), "the database did not take the whole code");
});

test("with the audit key, verify catches the newest records deleted and the head moved back", async () => {
  const { server, db } = await serverWithAudit({ args: ["--demo"], spec: null, token: null, env: { CODEMODE_AUDIT_KEY: AUDIT_KEY } });
  const client = await connectHttp(server.url);
  for (let i = 0; i < 4; i++) await call(client, "search", { code: `async () => ${i}` });
  await client.close();
  await server.stop();
  const keyed = { CODEMODE_AUDIT_KEY: AUDIT_KEY };
  const intact = audit(db, ["verify"], keyed);
  assert.equal(intact.status, 0, intact.stdout + intact.stderr);
  assert.match(intact.stdout, /MACs match CODEMODE_AUDIT_KEY/);

  sqlite(db, `DELETE FROM audit_calls WHERE id > 2;
    UPDATE audit_chain SET id = 2, hash = (SELECT hash FROM audit_calls WHERE id = 2) WHERE point = 'head';`);
  const unkeyed = audit(db, ["verify"]);
  assert.equal(unkeyed.status, 0, "without the key the truncation is not evident, as documented");
  assert.match(unkeyed.stderr, /CODEMODE_AUDIT_KEY is not set/);
  const caught = audit(db, ["verify"], keyed);
  assert.notEqual(caught.status, 0, caught.stdout);
  assert.match(caught.stderr, /head \(row 2\) does not match its MAC/);
});

test("while another process holds the write lock, the first call fails saying so, later calls fail at once without a write, then all recover", async () => {
  const api = await startFakeCloudflare();
  const { server, db } = await serverWithAudit({ apiBase: api.base });
  const base = server.url.replace(/\/mcp$/, "");
  const metric = async (name) => Number((await (await fetch(`${base}/metrics`)).text()).match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1]);
  const client = await connectHttp(server.url);
  assert.equal((await call(client, "search", { code: "async () => 'before'" })).isError, false);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);

  const holder = spawn("python3", ["-c", `import sqlite3,sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
c.execute("ROLLBACK")`, db], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise((resolve) => holder.stdout.once("data", resolve));

  // The first call finds the lock: its write waits for it, then fails, and the store is
  // marked unavailable.
  const search = await call(client, "search", { code: "async () => 'while locked'" });
  assert.equal(search.isError, true);
  assert.match(search.text, /audit database is locked by another connection/);
  assert.match(search.text, /result is withheld/);
  assert.equal(await metric("codemode_audit_fast_failures_total"), 0, "that write was attempted");
  const readyz = await fetch(`${base}/readyz`);
  assert.equal(readyz.status, 503);
  assert.match((await readyz.json()).reasons.audit, /audit database is unavailable since a write failed \(the audit database is locked/);

  // The next calls are refused before their code runs, with no write attempted.
  const execute = await call(client, "execute", { code: `async () => { try { await cloudflare.request({ method: "GET", path: "/zones" }); return "sent"; } catch (e) { return e.message; } }` });
  assert.equal(execute.isError, true, "the call's own record cannot be written either");
  assert.match(execute.text, /refused before it ran, because the audit log cannot record it/);
  assert.match(execute.text, /nothing was written now: the writer checks the database in the background/);
  assert.equal(api.requests.length, 0, "a call that cannot be recorded sends nothing");
  const again = await call(client, "search", { code: "async () => 'still locked'" });
  assert.match(again.text, /refused before it ran/);
  assert.equal(await metric("codemode_audit_fast_failures_total"), 2, "both refused without a write");

  holder.stdin.end("\n");
  await new Promise((resolve) => holder.once("exit", resolve));
  // The writer's probe finds the database free again; readiness says so, and calls succeed.
  while ((await fetch(`${base}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 20));
  const after = await call(client, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones" })).result.length` });
  assert.equal(after.isError, false, after.text);
  assert.equal(after.json, 2);
  assert.equal(await metric("codemode_audit_unavailable_total"), 3, "every refused call is counted");
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^codemode_tool_calls_total\{tool="search",outcome="audit"\} 2$/m);
  assert.match(metrics, /^codemode_tool_calls_total\{tool="execute",outcome="audit"\} 1$/m);
  await client.close();
  await server.stop();
  await api.close();

  const calls = exportedCalls(db);
  assert.deepEqual(calls.map((c) => [c.tool, c.outcome]), [["search", "ok"], ["execute", "ok"]]);
  assert.equal(audit(db, ["verify"]).status, 0);
});

/** Runs `sql` with psql against the Postgres database at `url`; its output, trimmed. */
function psql(url, sql) {
  const out = spawnSync("psql", [url, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim();
}

/** A fresh database on the test Postgres, named from `prefix`: its name and URL. */
function freshDatabase(prefix) {
  const POSTGRES = process.env.CODEMODE_TEST_POSTGRES_URL;
  assert.ok(POSTGRES, "run through tests/stores/with-servers.sh, which starts Postgres");
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  psql(POSTGRES, `CREATE DATABASE ${name}`);
  return { name, url: `${POSTGRES.slice(0, POSTGRES.lastIndexOf("/"))}/${name}` };
}

/** A server whose audit log is the Postgres database at `url`, with a fake API, an SDK client, and the readings both Postgres tests take. */
async function serverOnPostgres(url) {
  const api = await startFakeCloudflare();
  const server = await startServer({ apiBase: api.base, args: ["--config", writeConfig(`data_dir = "${scratchDir()}"\n[audit]\nstore = "postgres"\npostgres_url = "${url}"\n`)] });
  const base = server.url.replace(/\/mcp$/, "");
  const client = await connectHttp(server.url);
  return {
    api, base, client,
    metric: async (name) => Number((await (await fetch(`${base}/metrics`)).text()).match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1]),
    ready: () => fetch(`${base}/readyz`).then((r) => r.status),
    async close() { await client.close(); await server.stop(); await api.close(); },
  };
}

/** An execute listing the fake API's zones: its count. */
const LIST_ZONES = `async () => (await cloudflare.request({ method: "GET", path: "/zones" })).result.length`;

test("with the audit log in Postgres, a held table lock or refused connections fail the first call, later calls at once without a write, then all recover", { timeout: 120_000 }, async (t) => {
  const POSTGRES = process.env.CODEMODE_TEST_POSTGRES_URL;
  const { name, url: database } = freshDatabase("audit_down");
  const served = await serverOnPostgres(database);
  const { api, base, client, metric, ready } = served;
  try {
    assert.equal((await call(client, "search", { code: "async () => 'before'" })).isError, false);
    assert.equal(await ready(), 200);

    // Another session holds the entries table's lock, as a long maintenance job might.
    const holder = spawn("psql", [database, "-X", "-q", "-v", "ON_ERROR_STOP=1"], { stdio: ["pipe", "ignore", "inherit"] });
    holder.stdin.write("BEGIN;\nLOCK TABLE codemode_audit_entries IN ACCESS EXCLUSIVE MODE;\n");
    await until(() => psql(database, "SELECT count(*) FROM pg_locks WHERE relation = 'codemode_audit_entries'::regclass AND mode = 'AccessExclusiveLock' AND granted") === "1");

    // The first call's record waits out the lock wait, then fails; the store is marked.
    const first = await call(client, "search", { code: "async () => 'while locked'" });
    t.diagnostic(`locked, first call: ${JSON.stringify(first.text)}`);
    assert.equal(first.isError, true);
    assert.match(first.text, /audit database is locked by another connection/);
    assert.match(first.text, /result is withheld/);
    assert.equal(await metric("codemode_audit_fast_failures_total"), 0, "that write was attempted");
    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 503);
    assert.match((await readyz.json()).reasons.audit, /audit database is unavailable since a write failed \(the audit database is locked/);

    // Later calls are refused before their code runs, with no write attempted.
    const execute = await call(client, "execute", { code: LIST_ZONES });
    t.diagnostic(`locked, next call: ${JSON.stringify(execute.text)}`);
    assert.equal(execute.isError, true);
    assert.match(execute.text, /refused before it ran, because the audit log cannot record it/);
    assert.match(execute.text, /nothing was written now: the writer checks the database in the background/);
    assert.equal(api.requests.length, 0, "a call that cannot be recorded sends nothing");
    assert.match((await call(client, "search", { code: "async () => 'still locked'" })).text, /refused before it ran/);
    assert.equal(await metric("codemode_audit_fast_failures_total"), 2, "both refused without a write");

    // Released: the writer's probe finds the table free, readiness says so, calls succeed.
    holder.stdin.end("ROLLBACK;\n");
    await new Promise((resolve) => holder.once("exit", resolve));
    while (await ready() !== 200) await new Promise((r) => setTimeout(r, 20));
    const after = await call(client, "execute", { code: LIST_ZONES });
    assert.equal(after.isError, false, after.text);
    assert.equal(after.json, 2);

    // Postgres stops taking connections to the database and drops the server's: the first
    // call fails naming Postgres, later ones at once, until connections are allowed again.
    psql(POSTGRES, `ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    psql(POSTGRES, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${name}'`);
    const cut = await call(client, "search", { code: "async () => 'cut off'" });
    t.diagnostic(`connections refused, first call: ${JSON.stringify(cut.text)}`);
    assert.equal(cut.isError, true);
    assert.match(cut.text, /audit database refused the write: .*Postgres.*(is not currently accepting connections|terminating connection due to administrator command|connection closed)/);
    assert.match(cut.text, /result is withheld/);
    const gone = await fetch(`${base}/readyz`);
    assert.equal(gone.status, 503);
    assert.match((await gone.json()).reasons.audit, /audit database is unavailable since a write failed/);
    const refused = await call(client, "execute", { code: LIST_ZONES });
    assert.match(refused.text, /refused before it ran, because the audit log cannot record it/);
    assert.equal(await metric("codemode_audit_fast_failures_total"), 3);
    assert.equal(api.requests.length, 1, "only the call made while the log answered reached the API");

    psql(POSTGRES, `ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    while (await ready() !== 200) await new Promise((r) => setTimeout(r, 20));
    const back = await call(client, "execute", { code: LIST_ZONES });
    assert.equal(back.isError, false, back.text);
    assert.equal(back.json, 2);

    // Only the calls that ran are in the log: 'before', the two executes, and their intents.
    assert.equal(psql(database, "SELECT string_agg(kind, ',' ORDER BY id) FROM codemode_audit_entries"), "call,request,call,request,call");
    assert.equal(await metric("codemode_audit_unavailable_total"), 5, "every refused call is counted");
  } finally {
    await served.close();
  }
});

/**
 * A TCP proxy to `target` (`host:port`) that holds every byte while stalled, as a stopped
 * server or a stalled network does: connections are still accepted, and nothing is answered.
 */
async function stallingProxy(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  let stalled = false;
  const held = [];
  const sockets = new Set();
  const pipe = (from, to) => {
    from.on("data", (chunk) => {
      if (!stalled) return void to.write(chunk);
      from.pause();
      held.push(() => { to.write(chunk); from.resume(); });
    });
    from.on("error", () => to.destroy());
    from.on("close", () => to.destroy());
  };
  const proxy = net.createServer((client) => {
    const upstream = net.connect(port, host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${proxy.address().port}`,
    stall() { stalled = true; },
    resume() { stalled = false; for (const release of held.splice(0)) release(); },
    close() { for (const socket of sockets) socket.destroy(); return new Promise((resolve) => proxy.close(resolve)); },
  };
}

test("with the audit log in a Postgres that stops answering, the first call fails once the writer gives up waiting, later calls at once without a write, then all recover", { timeout: 120_000 }, async (t) => {
  const { url: database } = freshDatabase("audit_stall");
  const [user, rest] = database.split("@");
  const proxy = await stallingProxy(rest.slice(0, rest.indexOf("/")));
  const served = await serverOnPostgres(`${user}@${proxy.address}${rest.slice(rest.indexOf("/"))}`);
  const { api, base, client, metric, ready } = served;
  try {
    assert.equal((await call(client, "search", { code: "async () => 'before'" })).isError, false);

    // Postgres stops answering: the first call's record gets no answer, and the writer gives
    // up after its wait instead of holding every call for ever.
    proxy.stall();
    const started = Date.now();
    const first = await call(client, "search", { code: "async () => 'while stalled'" });
    t.diagnostic(`stalled, first call (${Date.now() - started} ms): ${JSON.stringify(first.text)}`);
    assert.equal(first.isError, true);
    assert.match(first.text, /Postgres gave no answer within 5 s/);
    assert.match(first.text, /result is withheld/);
    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 503);
    assert.match((await readyz.json()).reasons.audit, /audit database is unavailable since a write failed \(.*Postgres gave no answer/);

    // Later calls are refused before their code runs, with no write attempted.
    const execute = await call(client, "execute", { code: LIST_ZONES });
    t.diagnostic(`stalled, next call: ${JSON.stringify(execute.text)}`);
    assert.match(execute.text, /refused before it ran, because the audit log cannot record it/);
    assert.equal(api.requests.length, 0, "a call that cannot be recorded sends nothing");
    assert.equal(await metric("codemode_audit_fast_failures_total"), 1);

    // Answering again: the writer's probe gets through on a new connection, calls succeed.
    proxy.resume();
    while (await ready() !== 200) await new Promise((r) => setTimeout(r, 50));
    const back = await call(client, "execute", { code: LIST_ZONES });
    assert.equal(back.isError, false, back.text);
    assert.equal(back.json, 2);
    // The stalled record may have committed once its bytes went through, or rolled back; the
    // call and request recorded after recovery are the newest entries either way.
    assert.match(psql(database, "SELECT string_agg(kind, ',' ORDER BY id) FROM codemode_audit_entries"), /^call,(call,)?request,call$/);
  } finally {
    await served.close();
    await proxy.close();
  }
});

// An upstream that misbehaves at the socket level (resets, hangs, trickles bytes, closes
// mid-body, sends huge or broken bodies, storms of 5xx and 429), driven through the real binary
// and the TS SDK: for each fault, the error agent code sees, the audit record of the call and
// its request, and a server that keeps answering. Then a server killed under load, whose
// in-flight requests are all in the log. Times are reported (as test diagnostics), not asserted.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { connectHttp, call } from "./lib/codemode.mjs";
import { audit, exportedCalls, exportedEntries, serverWithAudit } from "./lib/audit.mjs";

const MIB = 1 << 20;
const CONFIG = `[sandbox]
execute_timeout_secs = 8

[upstream]
max_response_mib = 4
max_call_responses_mib = 7
`;
const intents = (db) => exportedEntries(db).filter((entry) => entry.entry === "request");
const envelope = (result) => JSON.stringify({ success: true, errors: [], messages: [], result });
const failure = (code, message) => JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });
const head = (status, headers) =>
  `HTTP/1.1 ${status}\r\n${Object.entries({ connection: "close", ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
const answer = (status, body, type = "application/json", extra = {}) =>
  head(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...extra }) + body;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `text` one byte at a time, `gapMs` apart, unless the socket closes first. */
async function trickle(socket, text, gapMs) {
  for (const byte of Buffer.from(text)) {
    if (socket.destroyed) return;
    socket.write(Buffer.of(byte));
    await sleep(gapMs);
  }
  socket.end();
}

/** Writes chunks of `chunk` bytes until `total` are written or the client hangs up. */
async function flood(socket, total, chunk, chunked) {
  const block = Buffer.alloc(chunk, "x");
  for (let sent = 0; sent < total && !socket.destroyed; sent += chunk) {
    const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.toString(16)}\r\n`), block, Buffer.from("\r\n")]) : block;
    if (!socket.write(frame)) await new Promise((resolve) => { socket.once("drain", resolve); socket.once("close", resolve); });
  }
  socket.end();
}

/** Three responses of 3 MiB declared up front, bodies sent once one of the three is refused. */
function bigTrio() {
  const waiting = [];
  return (socket) => {
    socket.write(head("200 OK", { "content-type": "application/json", "content-length": 3 * MIB }));
    waiting.push(socket);
    if (waiting.length < 3) return;
    const body = Buffer.from(envelope("y".repeat(3 * MIB - envelope("").length)));
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const other of waiting) if (!other.destroyed) other.end(body);
    };
    for (const one of waiting) one.once("close", release);
  };
}

const FAULTS = {
  reset: (socket) => socket.resetAndDestroy(),
  hang: () => {},
  "slow-headers": (socket) => trickle(socket, answer("200 OK", envelope({ id: "slow-headers" })), 5),
  "slow-body": async (socket) => {
    const body = envelope({ id: "slow-body" });
    socket.write(head("200 OK", { "content-type": "application/json", "content-length": body.length }));
    await trickle(socket, body, 5);
  },
  "close-mid-body": (socket) => {
    socket.write(head("200 OK", { "content-type": "application/json", "content-length": 1000 }));
    socket.end('{"success":true,"result":"cut off');
  },
  "huge-with-length": (socket) => {
    socket.write(head("200 OK", { "content-type": "application/json", "content-length": 100 * 1000 * 1000 }));
    flood(socket, 100 * 1000 * 1000, 64 * 1024, false);
  },
  "huge-chunked": (socket) => {
    socket.write(head("200 OK", { "content-type": "application/json", "transfer-encoding": "chunked" }));
    flood(socket, 100 * 1000 * 1000, 64 * 1024, true);
  },
  malformed: (socket) => socket.end(answer("200 OK", '{"success": true, "result": [1, 2,\u001b[31m')),
  empty: (socket) => socket.end(answer("200 OK", "")),
  "storm503": (socket) => socket.end(answer("503 Service Unavailable", failure(10043, "temporarily unavailable"))),
  "storm429": (socket) => socket.end(answer("429 Too Many Requests", failure(10429, "rate limited"), "application/json", { "retry-after": "0" })),
  "storm500": (socket) => socket.end(answer("500 Internal Server Error", failure(10000, "internal error"))),
  big: bigTrio(),
};

/** A raw HTTP/1.1 server on loopback answering GET /zones/<fault>[-n] with that fault. */
async function startFaultyApi() {
  const seen = [];
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let request = "";
    socket.on("data", function onData(data) {
      request += data.toString("latin1");
      if (!request.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      const path = request.split(" ")[1].replace(/^\/client\/v4/, "");
      seen.push(path);
      const fault = path.replace(/^\/zones\//, "").replace(/-\d+$/, "");
      (FAULTS[fault] ?? ((s) => s.end(answer("404 Not Found", failure(7003, "no route")))))(socket);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}/client/v4`,
    seen,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(resolve); }),
  };
}

const one = (fault) => `async () => cloudflare.request({ method: "GET", path: "/zones/${fault}" })`;
// Every request is answered before the code throws the first failure, so the record is whole.
const parallel = (fault, n) => `async () => {
  const all = await Promise.allSettled([${[...Array(n).keys()].join(", ")}].map((n) => cloudflare.request({ method: "GET", path: "/zones/${fault}-" + n })));
  const failed = all.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return all.length;
}`;
const settled = (fault, n) =>
  `async () => (await Promise.allSettled([${[...Array(n).keys()].join(", ")}].map((n) => cloudflare.request({ method: "GET", path: "/zones/${fault}-" + n })))).map((r) => r.status === "fulfilled" ? "ok " + r.value.result.length : r.reason.message)`;

// Each case: the code, what the agent sees (`error` matched against the tool's text, or
// `result` checked on its JSON), and the call's audit record (its error kind and requests).
const CASES = [
  { fault: "reset", code: one("reset"), error: /GET \/zones\/reset: could not reach the API: error sending request/, kind: "thrown", requests: [[null, 1, null]] },
  { fault: "hang", code: one("hang"), error: /timed out|timeout/i, kind: "timeout", requests: [[null, 1, "timed_out"]] },
  { fault: "slow-headers", code: one("slow-headers"), result: (json) => assert.deepEqual(json.result, { id: "slow-headers" }), kind: null, requests: [[200, 1, null]] },
  { fault: "slow-body", code: one("slow-body"), result: (json) => assert.deepEqual(json.result, { id: "slow-body" }), kind: null, requests: [[200, 1, null]] },
  { fault: "close-mid-body", code: one("close-mid-body"), error: /GET \/zones\/close-mid-body: could not reach the API: error decoding response body/, kind: "thrown", requests: [[null, 1, null]] },
  { fault: "huge-with-length", code: one("huge-with-length"), error: /the response is too large: it passed 4 MiB, the most one response may hold \(\[upstream\] max_response_mib\)/, kind: "thrown", requests: [[null, 1, null]] },
  { fault: "huge-chunked", code: one("huge-chunked"), error: /the response is too large: it passed 4 MiB, the most one response may hold/, kind: "thrown", requests: [[null, 1, null]] },
  { fault: "malformed", code: one("malformed"), error: /HTTP 200 with Content-Type "application\/json", but the body \(39 bytes\) is not JSON: .*; it begins "\{\\"success\\": true, \\"result\\": \[1, 2,\\u\{1b\}\[31m"/, kind: "thrown", requests: [[200, 1, null]] },
  { fault: "empty", code: one("empty"), result: (json) => assert.deepEqual([json.success, json.status, json.result, json.note], [true, 200, null, "the API sent an empty body"]), kind: null, requests: [[200, 1, null]] },
  { fault: "storm503", code: one("storm503"), error: /still HTTP 503 \(unavailable\) after 4 attempt\(s\).*temporarily unavailable/, kind: "thrown", requests: [[503, 4, null]] },
  { fault: "storm429", code: parallel("storm429", 3), error: /still HTTP 429 \(rate limited\) after 4 attempt\(s\)/, kind: "thrown", requests: [0, 1, 2].map(() => [429, 4, null]) },
  { fault: "storm500", code: parallel("storm500", 6), error: /HTTP 500.*internal error/, kind: "thrown", requests: [0, 1, 2, 3, 4, 5].map(() => [500, 1, null]) },
  {
    fault: "big",
    code: settled("big", 3),
    result: (json) => {
      const refused = json.filter((m) => /with the call's other responses it passed 7 MiB, the most one call's responses may hold at once/.test(m));
      assert.equal(refused.length, 1, JSON.stringify(json).slice(0, 500));
      assert.equal(json.filter((m) => m.startsWith("ok ")).length, 2);
    },
    kind: null,
    requests: null,
  },
];

test("each upstream fault ends in a clear error the agent sees, an audit record, and a server that keeps answering", async (t) => {
  const api = await startFaultyApi();
  const { server, db } = await serverWithAudit({ apiBase: api.base, config: CONFIG });
  const client = await connectHttp(server.url);
  const seen = [];
  for (const c of CASES) {
    const started = Date.now();
    const result = await call(client, "execute", { code: c.code });
    const ms = Date.now() - started;
    t.diagnostic(`${c.fault}: ${ms} ms: ${JSON.stringify(result.text.slice(0, 1000))}`);
    seen.push({ ...c, ms, text: result.text });
    if (c.error) {
      assert.equal(result.isError, true, `${c.fault}: ${result.text}`);
      assert.match(result.text, c.error, c.fault);
    } else {
      assert.equal(result.isError, false, `${c.fault}: ${result.text}`);
      c.result(result.json);
    }
    const alive = await call(client, "search", { code: "async () => spec.stats?.operations ?? 1" });
    assert.equal(alive.isError, false, `the server answers after ${c.fault}: ${alive.text}`);
  }
  await client.close();
  await server.stop();
  await api.close();

  const calls = exportedCalls(db).filter((record) => record.tool === "execute");
  assert.equal(calls.length, CASES.length);
  const ids = new Set(intents(db).map((intent) => intent.id));
  for (const [i, c] of CASES.entries()) {
    const record = calls[i];
    t.diagnostic(`${c.fault}: audit ${JSON.stringify({ outcome: record.outcome, error_kind: record.error_kind ?? null, requests: record.requests.map((r) => [r.path, r.status, r.attempts, r.no_answer ?? null]) })}`);
    assert.equal(record.error_kind ?? null, c.kind, `${c.fault}: ${JSON.stringify(record)}`);
    assert.ok(record.requests.every((r) => ids.has(r.intent)), `${c.fault}: each request has its intent`);
    assert.ok(record.requests.every((r) => r.path.startsWith(`/zones/${c.fault}`)), c.fault);
    if (c.requests) {
      assert.deepEqual(
        record.requests.map((r) => [r.status, r.attempts, r.no_answer ?? null]),
        c.requests,
        `${c.fault}: ${JSON.stringify(record.requests)}`,
      );
    } else {
      assert.deepEqual(record.requests.map((r) => r.status).sort(), [200, 200, null], c.fault);
    }
  }
  assert.equal(audit(db, ["verify"]).status, 0);
});

test("a server killed under load leaves every in-flight request's intent in the log", async (t) => {
  const api = await startFaultyApi();
  const { server, db } = await serverWithAudit({ apiBase: api.base, config: CONFIG });
  const clients = await Promise.all([0, 1, 2, 3].map((n) => connectHttp(server.url, `load-${n}`)));
  // Four clients, each with a call of three requests that never get an answer.
  for (const [n, client] of clients.entries()) {
    const code = `async () => Promise.all([0, 1, 2].map((i) => cloudflare.request({ method: "GET", path: "/zones/hang-${n}" + i })))`;
    call(client, "execute", { code }).catch(() => {});
  }
  while (api.seen.length < 12) await sleep(20);
  server.child.kill("SIGKILL");
  await new Promise((resolve) => (server.child.exitCode !== null || server.child.signalCode ? resolve() : server.child.once("exit", resolve)));
  await api.close();

  const logged = intents(db).map((intent) => `${intent.method} ${intent.path}`).sort();
  assert.deepEqual(logged, api.seen.map((path) => `GET ${path}`).sort(), "every request that reached the API was logged first");
  t.diagnostic(`killed with ${api.seen.length} requests in flight; intents logged: ${logged.length}; calls recorded: ${exportedCalls(db).length}`);
  assert.equal(logged.length, 12);
  assert.deepEqual(exportedCalls(db), [], "no call finished");
  const verify = audit(db, ["verify"]);
  t.diagnostic(`audit verify: ${JSON.stringify((verify.stdout + verify.stderr).trim())}`);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
});

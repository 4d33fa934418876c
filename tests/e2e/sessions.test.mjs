// Session caps through the TS SDK: past the per-client cap `initialize` gets 429, past the
// server's cap 503, each with a JSON-RPC error naming the cap and what to do; a session ended
// with DELETE frees its place at once, and one abandoned is closed after the idle timeout;
// either way it leaves the codemode_sessions_open gauge without a new session opening.
import { test } from "node:test";
import assert from "node:assert/strict";
import { call, connectHttp, startServer, writeConfig } from "./lib/codemode.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function server(http) {
  const config = writeConfig(`[http]\n${http}\n`);
  return startServer({ args: ["--demo", "--config", config], spec: null, token: null });
}

test("one client past its session cap is refused with 429 until it ends or abandons a session", async () => {
  const codemode = await server("max_sessions_per_client = 2\nsession_idle_secs = 1");
  const first = await connectHttp(codemode.url, "first");
  const second = await connectHttp(codemode.url, "second");
  await assert.rejects(connectHttp(codemode.url, "third"), (error) => {
    assert.equal(error.code, 429, error.message);
    assert.match(error.message, /too many open MCP sessions for this client: it holds the most one client may \(2, \[http\] max_sessions_per_client\)/);
    assert.match(error.message, /HTTP DELETE \/mcp with their Mcp-Session-Id/);
    assert.match(error.message, /"code":-32000/);
    return true;
  });
  assert.equal((await call(first, "search", { code: "async () => 1" })).isError, false, "open sessions keep working");

  await first.transport.terminateSession();
  await first.close();
  const third = await connectHttp(codemode.url, "third");
  assert.equal((await call(third, "search", { code: "async () => 3" })).json, 3);

  // Abandoned: the client goes away without DELETE; the idle timeout closes its session.
  const abandoned = second.transport.sessionId;
  await second.close();
  let fourth;
  for (let attempt = 0; !fourth && attempt < 600; attempt++) {
    fourth = await connectHttp(codemode.url, "fourth").catch((error) => {
      assert.equal(error.code, 429, error.message);
      return sleep(100);
    });
  }
  assert.ok(fourth, "a place came free once the abandoned session idled out");
  const stale = await fetch(codemode.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": abandoned },
    body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
  });
  assert.equal(stale.status, 404, "the abandoned session is gone");
  await Promise.all([third.close(), fourth.close()]);
  await codemode.stop();
});

test("past the server's session cap every client is refused with 503", async () => {
  const codemode = await server("max_sessions = 1\nmax_sessions_per_client = 5");
  const only = await connectHttp(codemode.url, "only");
  await assert.rejects(connectHttp(codemode.url, "another"), (error) => {
    assert.equal(error.code, 503, error.message);
    assert.match(error.message, /the server holds the most open MCP sessions it allows \(1, \[http\] max_sessions\); try again later/);
    return true;
  });
  assert.equal((await call(only, "search", { code: "async () => 1" })).isError, false);
  await only.close();
  await codemode.stop();
});

test("a session closed by DELETE or by the idle timeout leaves the open-sessions gauge with no new session opening", { timeout: 60_000 }, async () => {
  const codemode = await server("session_idle_secs = 1");
  const metricsUrl = codemode.url.replace(/\/mcp$/, "/metrics");
  const open = async () => Number((await (await fetch(metricsUrl)).text()).match(/^codemode_sessions_open (\d+)$/m)?.[1]);
  assert.equal(await open(), 0);
  const clients = [];
  for (const name of ["ended", "abandoned-1", "abandoned-2"]) clients.push(await connectHttp(codemode.url, name));
  assert.equal(await open(), 3);

  await clients[0].transport.terminateSession();
  await clients[0].close();
  while (await open() !== 2) await sleep(20);

  // The others go away without DELETE; the sweep closes them and each handler forgets itself.
  await Promise.all(clients.slice(1).map((client) => client.close()));
  while (await open() !== 0) await sleep(50);
  await codemode.stop();
});

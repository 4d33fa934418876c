// Measures the server's memory with many MCP sessions opened and abandoned (initialize, then
// never a DELETE), before and after the idle timeout closes them. Not a test: run it by hand,
// `node tests/memory/sessions.mjs [sessions=10000] [idle_secs=10]`.
import { startServer, writeConfig } from "../e2e/lib/codemode.mjs";
import { memory } from "./rss.mjs";

const sessions = Number(process.argv[2] ?? 10_000);
const idleSecs = Number(process.argv[3] ?? 10);
const config = writeConfig(`[http]\nmax_sessions = ${sessions}\nmax_sessions_per_client = ${sessions}\nsession_idle_secs = ${idleSecs}\n`);
// MIMALLOC_* variables (the allocator's options) pass through, to compare how memory is returned.
const allocator = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("MIMALLOC_")));
const server = await startServer({ args: ["--demo", "--config", config], spec: null, token: null, env: allocator });
const initialize = JSON.stringify({
  jsonrpc: "2.0", id: 1, method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "abandoner", version: "1" } },
});
async function open() {
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: initialize,
  });
  await response.text();
  if (!response.headers.get("mcp-session-id")) throw new Error(`no session: HTTP ${response.status}`);
}
const pid = server.child.pid;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
await open();
await sleep(idleSecs * 1000 + 2000);
const start = memory(pid);
// Two rounds: if the second round's sessions reuse the first's memory, what stays is held by
// the allocator for reuse, not leaked.
for (const round of [1, 2]) {
  let opened = 0;
  const started = Date.now();
  await Promise.all([...Array(50).keys()].map(async () => {
    while (opened < sessions) {
      opened += 1;
      await open();
    }
  }));
  const full = memory(pid);
  const openSecs = (Date.now() - started) / 1000;
  // Memory comes back once the sweep has closed them and their handlers are dropped, which can
  // take a few seconds more: the lowest reading, once ten in a row (a second apart) go no lower.
  await sleep(idleSecs * 1000 + 2000);
  let after = memory(pid);
  for (let still = 0, reading = 0; still < 10 && reading < 60; reading++) {
    await sleep(1000);
    const now = memory(pid);
    if (now.rss < after.rss) [after, still] = [now, 0];
    else still += 1;
  }
  console.log(`round ${round}: ${sessions} sessions opened and abandoned in ${openSecs.toFixed(1)} s (idle timeout ${idleSecs} s)`);
  console.log(`RSS before ${start.rss} MiB, with all open ${full.rss} MiB (${(((full.rss - start.rss) * 1024) / sessions).toFixed(1)} KiB each above the start), after the timeout ${after.rss} MiB; peak ${after.peak} MiB`);
}
await open();
console.log("a new session opens after both rounds");
await server.stop();

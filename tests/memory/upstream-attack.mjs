// Measures the server's memory under the upstream attack of issue 10: several concurrent
// execute calls, each sending 6 requests in parallel to an API that answers each with a valid
// 30 MB JSON body. Prints the peak and final RSS and what the code saw. Not a test: run it by
// hand, `node tests/memory/upstream-attack.mjs [calls=4] [with-length|chunked] [megabytes=30]`.
import http from "node:http";
import { call, connectHttp, startServer } from "../e2e/lib/codemode.mjs";
import { memory } from "./rss.mjs";

const calls = Number(process.argv[2] ?? 4);
const chunked = process.argv[3] === "chunked";
const megabytes = Number(process.argv[4] ?? 30);
const item = JSON.stringify({ id: "0123456789abcdef0123456789abcdef", name: "example.com", status: "active", paused: false });
const count = Math.floor((megabytes * 1e6) / (item.length + 1));
const body = Buffer.from(`{"success":true,"errors":[],"messages":[],"result":[${Array(count).fill(item).join(",")}]}`);

const api = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json", ...(chunked ? {} : { "content-length": body.length }) });
  // Sent in 1 MiB writes, so a chunked body really is chunked.
  for (let at = 0; at < body.length; at += 1 << 20) res.write(body.subarray(at, at + (1 << 20)));
  res.end();
});
await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));
const allocator = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("MIMALLOC_")));
const server = await startServer({ apiBase: `http://127.0.0.1:${api.address().port}/client/v4`, env: allocator });
const pid = server.child.pid;
const idle = memory(pid);
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, memory(pid).rss)), 50);
const code = `async () => (await Promise.allSettled([0, 1, 2, 3, 4, 5].map((n) => cloudflare.request({ method: "GET", path: "/zones/z" + n }))))
  .map((r) => r.status === "fulfilled" ? "ok: " + r.value.result.length + " items" : r.reason.message)`;
const clients = await Promise.all([...Array(calls).keys()].map((n) => connectHttp(server.url, `attack-${n}`)));
const started = Date.now();
const results = await Promise.all(clients.map((client) => call(client, "execute", { code })));
const seconds = (Date.now() - started) / 1000;
clearInterval(sampler);
const seen = new Map();
for (const result of results) {
  for (const line of result.isError ? [result.text.split("\n")[0]] : result.json) {
    const key = line.replace(/\/zones\/z\d/, "/zones/zN");
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
}
const alive = await call(clients[0], "search", { code: "async () => 1" });
const after = memory(pid);
console.log(`${calls} calls x 6 requests of ${(body.length / 1e6).toFixed(1)} MB (${chunked ? "chunked" : "with Content-Length"}) in ${seconds.toFixed(1)} s`);
console.log(`RSS idle ${idle.rss} MiB, peak ${Math.max(peak, after.peak)} MiB (VmHWM ${after.peak}), after ${after.rss} MiB; server still answers: ${!alive.isError}`);
for (const [line, n] of seen) console.log(`  ${n} x ${line.slice(0, 260)}`);
await Promise.all(clients.map((client) => client.close()));
await server.stop();
api.close();

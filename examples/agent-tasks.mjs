// Seven ordinary Cloudflare tasks, each found the way an agent would through `search`: once
// with the helpers (spec.find, then spec.op of the best hit, in one call) and once without
// (hand-written filters over spec.paths, then the chosen operation's parameters and body read
// whole). Counts the tool calls and the characters of tool output each way.
//
//   cargo build --release && (cd tests && npm ci) && node examples/agent-tasks.mjs [spec.json]
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const require = createRequire(path.join(ROOT, "tests", "package.json"));
const { Client } = await import(require.resolve("@modelcontextprotocol/sdk/client/index.js"));
const { StdioClientTransport } = await import(require.resolve("@modelcontextprotocol/sdk/client/stdio.js"));

const SPEC = process.argv[2] ?? path.resolve(ROOT, "..", "shared", "specs", "cloudflare-openapi-2024-08.json");

/** Each task in an agent's words, the words a hand-written filter would try, and the answer. */
const TASKS = [
  { task: "list my zones", words: ["zones"], method: "GET", path: "/zones" },
  { task: "create a DNS record in a zone", words: ["dns_records", "dns record"], method: "POST", path: "/zones/{zone_id}/dns_records" },
  { task: "purge the cache of a zone", words: ["purge"], method: "POST", path: "/zones/{zone_id}/purge_cache" },
  { task: "list the Workers scripts of an account", words: ["workers/scripts"], method: "GET", path: "/accounts/{account_id}/workers/scripts" },
  { task: "create a KV namespace", words: ["kv/namespaces"], method: "POST", path: "/accounts/{account_id}/storage/kv/namespaces" },
  { task: "list R2 buckets", words: ["r2/buckets", "bucket"], method: "GET", path: "/accounts/{account_id}/r2/buckets" },
  { task: "run a SQL query on a D1 database", words: ["d1", "query"], method: "POST", path: "/accounts/{account_id}/d1/database/{database_id}/query" },
];

const client = new Client({ name: "agent-tasks", version: "1" });
await client.connect(new StdioClientTransport({ command: path.join(ROOT, "target", "release", "codemode"), args: ["stdio", "--spec", SPEC], env: { PATH: process.env.PATH, HOME: process.env.HOME }, stderr: "ignore" }));

const tally = { calls: 0, chars: 0 };
async function search(code) {
  const result = await client.callTool({ name: "search", arguments: { code } });
  const text = result.content.map((c) => c.text).join("\n");
  tally.calls += 1;
  tally.chars += text.length;
  return text;
}

async function run(label, find) {
  tally.calls = 0;
  tally.chars = 0;
  let right = 0;
  for (const task of TASKS) right += (await find(task)) ? 1 : 0;
  console.log(`${label}: ${tally.calls} calls, ${tally.chars} characters of tool output, ${right}/${TASKS.length} operations found`);
  return { ...tally, right };
}

// With the helpers: one call per task, the ranked hits and the compact view of the best one;
// a second call for the view of the right hit when it is not the best.
const withHelpers = await run("with spec.find/spec.op", async ({ task, method, path }) => {
  const text = await search(`async () => { const found = spec.find(${JSON.stringify(task)}, { limit: 3 });
    return { found, op: spec.op(found[0].method, found[0].path) }; }`);
  const { found } = JSON.parse(text);
  if (found[0].method === method && found[0].path === path) return true;
  console.log(`  "${task}": best hit ${found[0].method} ${found[0].path}`);
  // The agent reads the hits and asks for the view of the right one, if it is among them.
  if (!found.some((hit) => hit.method === method && hit.path === path)) return false;
  await search(`async () => spec.op(${JSON.stringify(method)}, ${JSON.stringify(path)})`);
  return true;
});

// Without: filter paths and summaries by the task's words until the operation shows up, then
// read its parameters and request body as the spec has them.
const without = await run("without the helpers", async ({ words, method, path }) => {
  let seen = false;
  for (const word of words) {
    const text = await search(`async () => Object.entries(spec.paths).flatMap(([p, ops]) =>
      Object.entries(ops).filter(([m, o]) => (p + " " + (o.summary ?? "")).toLowerCase().includes(${JSON.stringify(word)}))
        .map(([m, o]) => ({ method: m.toUpperCase(), path: p, summary: o.summary }))).slice(0, 25)`);
    if (text.includes(`"path":${JSON.stringify(path)}`)) {
      seen = true;
      break;
    }
  }
  if (!seen) return false;
  const text = await search(`async () => { const o = spec.paths[${JSON.stringify(path)}][${JSON.stringify(method.toLowerCase())}];
    return { summary: o.summary, parameters: o.parameters, requestBody: o.requestBody }; }`);
  return text.length > 0;
});

console.log(JSON.stringify({ tasks: TASKS.length, withHelpers, without }));
await client.close();

// Times tool calls through an official TypeScript SDK client, for codemode-bench.
// usage: NODE_MODULES=tests/node_modules node sdk-calls.mjs '<json>'
//   json: { "sdk": "v1" | "v2", "url": "http://127.0.0.1:PORT/mcp", "iterations": N,
//           "warmUp": M, "calls": [{ "label": "...", "tool": "search", "code": "async () => 1" }, ...] }
// Prints one JSON line: { "<label>": { "ms": [one per measured call], "textChars": N }, ... }.
// Each call runs M times to warm up, then N times measured; a tool error stops the run.
import { createRequire } from "node:module";

const require = createRequire(process.env.NODE_MODULES + "/");
const config = JSON.parse(process.argv[2]);

function loadSdk(sdk) {
  if (sdk === "v1") {
    const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
    const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
    return { Client, StreamableHTTPClientTransport };
  }
  if (sdk === "v2") {
    const { Client, StreamableHTTPClientTransport } = require("@modelcontextprotocol/client");
    return { Client, StreamableHTTPClientTransport };
  }
  throw new Error(`unknown sdk ${sdk}: use v1 or v2`);
}

const { Client, StreamableHTTPClientTransport } = loadSdk(config.sdk);
const client = new Client({ name: "codemode-bench", version: "1" });
await client.connect(new StreamableHTTPClientTransport(new URL(config.url)));

async function once({ tool, code }) {
  const result = await client.callTool({ name: tool, arguments: { code } });
  const text = result.content?.[0]?.text ?? "";
  if (result.isError) throw new Error(`${tool} failed: ${text.slice(0, 300)}`);
  return text.length;
}

const out = {};
for (const call of config.calls) {
  for (let i = 0; i < config.warmUp; i++) await once(call);
  const ms = [];
  let textChars = 0;
  for (let i = 0; i < config.iterations; i++) {
    const started = process.hrtime.bigint();
    textChars = await once(call);
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  out[call.label] = { ms, textChars };
}
await client.close();
console.log(JSON.stringify(out));

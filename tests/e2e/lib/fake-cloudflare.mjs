// A fake Cloudflare API on loopback: real HTTP, programmable answers, every request recorded.
import http from "node:http";

export const TEST_TOKEN = "cf-test-token-5ecr3t-do-not-leak-7d1e";
export const ACCOUNT = { id: "0123456789abcdef0123456789abcdef", name: "Test Account" };

const envelope = (result, extra = {}) => ({ success: true, errors: [], messages: [], result, ...extra });
const failure = (code, message) => ({ success: false, errors: [{ code, message }], messages: [], result: null });

/**
 * Starts the fake API. `routes` maps "METHOD /path" (path after /client/v4) to a handler
 * `(req, body, url) => ({status, json?, text?, headers?, delayMs?})`; unknown routes get 404.
 */
export async function startFakeCloudflare({ routes = {}, accounts = [ACCOUNT] } = {}) {
  const requests = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const state = { accounts };
  const table = {
    "GET /accounts": () => ({ status: 200, json: envelope(state.accounts, { result_info: { page: 1, per_page: 20, count: state.accounts.length, total_count: state.accounts.length } }) }),
    "GET /zones": () => ({ status: 200, json: envelope([{ id: "zone1", name: "example.com" }, { id: "zone2", name: "example.org" }]) }),
    ...routes,
  };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url, "http://fake");
    const path = url.pathname.replace(/^\/client\/v4/, "");
    const record = { method: req.method, path, query: url.search, headers: req.headers, body };
    requests.push(record);
    if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`) {
      return send(res, { status: 401, json: failure(10000, "Authentication error") });
    }
    const route = findRoute(table, req.method, path);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const answer = route ? await route.handler(req, body, url, route.params) : { status: 404, json: failure(7003, `No route for ${req.method} ${path}`) };
      if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
      if (answer.hang) return; // never answers
      send(res, answer);
    } finally {
      inFlight -= 1;
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}/client/v4`,
    requests,
    state,
    maxInFlight: () => maxInFlight,
    resetCounters() { requests.length = 0; maxInFlight = 0; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

function findRoute(table, method, path) {
  for (const [key, handler] of Object.entries(table)) {
    const [m, pattern] = key.split(" ");
    if (m !== method) continue;
    const want = pattern.split("/");
    const got = path.split("/");
    if (want.length !== got.length) continue;
    const params = {};
    if (want.every((seg, i) => (seg.startsWith(":") ? ((params[seg.slice(1)] = got[i]), true) : seg === got[i]))) {
      return { handler, params };
    }
  }
  return null;
}

function send(res, { status = 200, json, text, headers = {} }) {
  if (json !== undefined) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(json));
  } else {
    res.writeHead(status, { "content-type": "text/plain", ...headers });
    res.end(text ?? "");
  }
}

export { envelope, failure };

// A fake Anthropic Messages API on loopback that plays a scripted model, so that Claude Code can
// run offline: turn k calls the k-th tool of the script, and once every tool has its result the
// model answers "done". Requests that offer none of the script's tools get "done" at once.
import http from "node:http";

/**
 * Starts the fake API. `script` is a list of {name, input} tool calls. `base` is what
 * ANTHROPIC_BASE_URL points at; `toolResults()` maps each call's id (`toolu_<k>`) to the text
 * of the tool_result Claude Code sent back for it (from the request that carried the most).
 */
export async function startFakeAnthropic({ script }) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    requests.push({ method: req.method, url: req.url, body });
    const offered = new Set((body.tools ?? []).map((t) => t.name));
    const done = toolResultsOf(body).size;
    const next = script.every((call) => offered.has(call.name)) ? script[done] : undefined;
    const block = next ? { type: "tool_use", id: `toolu_${done}`, name: next.name, input: next.input } : { type: "text", text: "done" };
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const event of messageEvents(block, body.model)) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    res.end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    requests,
    toolResults: () => requests.map((r) => toolResultsOf(r.body)).reduce((most, next) => (next.size > most.size ? next : most), new Map()),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/** The tool_result blocks of a request's messages, by tool_use_id, their content as text. */
function toolResultsOf(body) {
  const results = new Map();
  for (const message of body.messages ?? []) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content) {
      if (block.type !== "tool_result") continue;
      const text = typeof block.content === "string" ? block.content : block.content.map((c) => c.text ?? "").join("\n");
      results.set(block.tool_use_id, text);
    }
  }
  return results;
}

/** The server-sent events of one streamed assistant message holding `block`. */
function messageEvents(block, model) {
  const start = block.type === "text" ? { type: "text", text: "" } : { type: "tool_use", id: block.id, name: block.name, input: {} };
  const delta = block.type === "text" ? { type: "text_delta", text: block.text } : { type: "input_json_delta", partial_json: JSON.stringify(block.input) };
  return [
    { type: "message_start", message: { id: `msg_${Date.now()}`, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } } },
    { type: "content_block_start", index: 0, content_block: start },
    { type: "content_block_delta", index: 0, delta },
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: block.type === "text" ? "end_turn" : "tool_use", stop_sequence: null }, usage: { output_tokens: 1 } },
    { type: "message_stop" },
  ];
}

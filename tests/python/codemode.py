"""Where the codemode binary and the shared spec are, starting `codemode serve`, and reading tool results."""

import json
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

from mcp.types import CallToolResult

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("CODEMODE_BIN") or str(ROOT / "target" / "release" / "codemode")
CLOUDFLARE_SPEC = str(ROOT.parent / "shared" / "specs" / "cloudflare-openapi-2024-08.json")

# JavaScript the tests run: a search over the Cloudflare spec, and an execute against the fake API.
SEARCH_ZONE_OPERATIONS = """async () => Object.entries(spec.paths)
  .filter(([path]) => path === "/zones" || path === "/zones/{zone_id}/dns_records")
  .map(([path, ops]) => [path, Object.keys(ops).sort()])"""
EXECUTE_ZONES = """async () => {
  const zones = (await cloudflare.request({ method: "GET", path: "/zones" })).result;
  console.log("zones:", zones.length);
  const first = await cloudflare.request({ method: "GET", path: `/zones/${zones[0].id}` });
  return { names: zones.map(z => z.name), first: first.result, account: accountId };
}"""


def server_env(token: str | None) -> dict[str, str]:
    """A minimal environment for the server, with the upstream token when given."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/"),
        "XDG_DATA_HOME": tempfile.mkdtemp(prefix="codemode-data-"),
        "RUST_LOG": "info",
        "NO_COLOR": "1",
    }
    if token is not None:
        env["CLOUDFLARE_API_TOKEN"] = token
    return env


class HttpServer:
    """`codemode serve` on an ephemeral loopback port; `url` is its MCP endpoint."""

    def __init__(self, args: list[str], token: str | None, env: dict[str, str] | None = None) -> None:
        self._process = subprocess.Popen(
            [BINARY, "serve", "--listen", "127.0.0.1:0", *args],
            env={**server_env(token), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: list[str] = []
        self._listening = threading.Event()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._listening.wait(30) or self._process.poll() is not None:
            self.stop()
            raise RuntimeError(f"codemode serve did not start:\n{self.stderr()}")
        match = re.search(r"listening on (http://\S+/mcp)", self.stderr())
        assert match is not None
        self.url = match[1]

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._lines.append(line)
            if "listening on http://" in line:
                self._listening.set()
        self._listening.set()

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far."""
        return "".join(self._lines)

    def kill(self) -> None:
        """Kills the server outright (no shutdown of any kind), as a crash would."""
        self._process.kill()
        self._process.wait()

    def stop(self) -> None:
        """Terminates the server and waits for it (killing it after 10 s)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def text_of(result: CallToolResult) -> str:
    """Every text block of a tool result, one per line (the value first, console output after)."""
    return "\n".join(block.text for block in result.content if block.type == "text")


def value_of(result: CallToolResult) -> object:
    """The value the tool's code returned: the first block, parsed as JSON."""
    assert not result.is_error, text_of(result)
    first = result.content[0]
    assert first.type == "text"
    return json.loads(first.text)

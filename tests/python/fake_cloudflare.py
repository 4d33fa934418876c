"""A fake Cloudflare API on loopback: real HTTP, Cloudflare envelopes, every request recorded."""

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

TEST_TOKEN = "cf-test-token-py-5ecr3t-do-not-leak-41c9"
ACCOUNT = {"id": "0123456789abcdef0123456789abcdef", "name": "Test Account"}
ZONES = [{"id": "zone1", "name": "example.com"}, {"id": "zone2", "name": "example.org"}]


def envelope(result: object) -> dict:
    """A successful Cloudflare response."""
    return {"success": True, "errors": [], "messages": [], "result": result}


def failure(code: int, message: str) -> dict:
    """A failed Cloudflare response."""
    return {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}


def zone(match: re.Match) -> tuple[int, dict]:
    """GET /zones/{zone_id}: the zone, or Cloudflare's answer to an unknown id."""
    found = [z for z in ZONES if z["id"] == match["zone_id"]]
    return (200, envelope(found[0])) if found else (404, failure(1001, "Invalid zone identifier"))


# The GET routes: a path after /client/v4, and its answer (status, JSON) to the path's match.
ROUTES: list[tuple[re.Pattern, Callable[[re.Match], tuple[int, dict]]]] = [
    (re.compile(r"/accounts"), lambda _: (200, envelope([ACCOUNT]))),
    (re.compile(r"/zones"), lambda _: (200, envelope(ZONES))),
    (re.compile(r"/zones/(?P<zone_id>[^/]+)"), zone),
]


@dataclass
class Request:
    """One request the fake API received."""

    method: str
    path: str
    authorization: str | None


class FakeCloudflare:
    """The fake API, served from a background thread until `close()`; `base` is codemode's --api-base."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self.requests))
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}/client/v4"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stops serving and releases the port."""
        self._server.shutdown()
        self._server.server_close()


def _handler_for(requests: list[Request]) -> type[BaseHTTPRequestHandler]:
    """A request handler that records into `requests` and answers GETs from ROUTES (other methods get 501)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path.removeprefix("/client/v4")
            authorization = self.headers.get("authorization")
            requests.append(Request(self.command, path, authorization))
            if authorization != f"Bearer {TEST_TOKEN}":
                return self.reply(401, failure(10000, "Authentication error"))
            for pattern, route in ROUTES:
                if match := pattern.fullmatch(path):
                    return self.reply(*route(match))
            self.reply(404, failure(7003, f"No route for GET {path}"))

        def reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Keeps the test output quiet."""

    return Handler

"""Approvals through the official Python SDK: on 2026-07-28 (`auto` and pinned) the person is asked
in-band, through `input_required` and the client's retry, and the same execution carries on; on
2025-11-25 (`legacy`) the server asks mid-script with `elicitation/create`."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ElicitResult

from codemode import CLOUDFLARE_SPEC, HttpServer, value_of
from fake_cloudflare import TEST_TOKEN, ZONES, FakeCloudflare

pytestmark = pytest.mark.anyio

# Reading one zone needs a person's approval under this server's policy.
READ_ZONE = """async () => {
  try {
    return (await cloudflare.request({ method: "GET", path: "/zones/zone1" })).result.name;
  } catch (e) {
    return "refused: " + e.message;
  }
}"""


@pytest.fixture
def asking_server(fake_api: FakeCloudflare, tmp_path: Path) -> Iterator[HttpServer]:
    """`codemode serve` whose policy holds `GET /zones/{zone_id}` for a person's approval."""
    config = tmp_path / "codemode.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[[policy.rules]]\nname = "ask-for-zone"\nmethod = ["GET"]\npath = "/zones/*"\naction = "approve"\n'
    )
    served = HttpServer(
        ["--spec", CLOUDFLARE_SPEC, "--api-base", fake_api.base, "--config", str(config)], token=TEST_TOKEN
    )
    yield served
    served.stop()


@pytest.mark.parametrize("mode", ["auto", "2026-07-28", "legacy"])
@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_the_person_is_asked_and_the_script_carries_on(
    asking_server: HttpServer, fake_api: FakeCloudflare, mode: str, action: str
) -> None:
    asked: list[str] = []

    async def elicit(_context: object, params: object) -> ElicitResult:
        asked.append(params.message)  # type: ignore[attr-defined]
        return ElicitResult(action=action, content={})

    async with Client(asking_server.url, mode=mode, elicitation_callback=elicit) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        result = await client.call_tool("execute", {"code": READ_ZONE})
    assert len(asked) == 1
    assert asked[0].startswith("Approve GET /zones/zone1?\n")
    sent = [r for r in fake_api.requests if r.path == "/zones/zone1"]
    if action == "accept":
        assert value_of(result) == ZONES[0]["name"]
        assert len(sent) == 1
    else:
        assert value_of(result).startswith("refused: GET /zones/zone1 was not approved (declined)")
        assert sent == []
    assert TEST_TOKEN not in result.model_dump_json()
    assert TEST_TOKEN not in asking_server.stderr()

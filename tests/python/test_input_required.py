"""Approvals through the official Python SDK: on 2026-07-28 (`auto` and pinned) the person is asked
in-band, through `input_required` and the client's retry, and the same execution carries on; on
2025-11-25 (`legacy`) the server asks mid-script with `elicitation/create`. A paused execution
resumes after the server is killed and started again."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ElicitResult, InputRequiredResult

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


# Lists the zones, then reads one, which needs the person's approval.
LIST_THEN_READ = """async () => {
  const zones = (await cloudflare.request({ method: "GET", path: "/zones" })).result.length;
  const zone = (await cloudflare.request({ method: "GET", path: "/zones/zone1" })).result.name;
  return { zones, zone, at: Date.now() > 0 };
}"""


async def test_a_paused_execution_resumes_after_the_server_is_killed_and_started_again(
    fake_api: FakeCloudflare, tmp_path: Path
) -> None:
    """2026-07-28, driven by hand as the SDK documents for persisting `request_state`: the
    server is killed between the pause and the retry; the retry to the new process resumes the
    execution from its record, the earlier request is answered from the record, and the
    approved one goes out exactly once."""
    config = tmp_path / "codemode.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[[policy.rules]]\nname = "ask-for-zone"\nmethod = ["GET"]\npath = "/zones/*"\naction = "approve"\n'
    )
    args = ["--spec", CLOUDFLARE_SPEC, "--api-base", fake_api.base, "--config", str(config)]
    # The key that seals request states must outlive the process, as in any restartable deployment.
    env = {"CODEMODE_REQUEST_STATE_KEY": "python-restart-state-key-0123456789abcdef0123456789"}

    async def never(_context: object, _params: object) -> ElicitResult:
        raise AssertionError("driven by hand: the SDK must not answer by itself")

    first = HttpServer(args, token=TEST_TOKEN, env=env)
    try:
        async with Client(first.url, mode="2026-07-28", elicitation_callback=never) as client:
            assert client.protocol_version == "2026-07-28"
            paused = await client.session.call_tool("execute", {"code": LIST_THEN_READ}, allow_input_required=True)
    finally:
        first.kill()
    assert isinstance(paused, InputRequiredResult), paused
    [(key, asked)] = paused.input_requests.items()
    assert asked.params.message.startswith("Approve GET /zones/zone1?\n")  # type: ignore[union-attr]
    assert [r.path for r in fake_api.requests] == ["/zones"], "nothing approved was sent before the answer"

    second = HttpServer(args, token=TEST_TOKEN, env=env)
    try:
        async with Client(second.url, mode="2026-07-28", elicitation_callback=never) as client:
            retry = {"input_responses": {key: ElicitResult(action="accept", content={})}}
            done = await client.session.call_tool(
                "execute", {"code": LIST_THEN_READ}, request_state=paused.request_state, allow_input_required=True, **retry
            )
            assert value_of(done) == {"zones": len(ZONES), "zone": ZONES[0]["name"], "at": True}  # type: ignore[arg-type]
            again = await client.session.call_tool(
                "execute", {"code": LIST_THEN_READ}, request_state=paused.request_state, allow_input_required=True, **retry
            )
            assert again.is_error, again
            assert "already answered, or its call is no longer paused" in again.content[0].text  # type: ignore[union-attr]
    finally:
        second.stop()
    paths = [r.path for r in fake_api.requests]
    assert paths.count("/zones") == 1, "the earlier request was answered from the record, not sent again"
    assert paths.count("/zones/zone1") == 1, "the approved request went out exactly once"
    assert TEST_TOKEN not in second.stderr()

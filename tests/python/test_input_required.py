"""Approvals through the official Python SDK: on 2026-07-28 (`auto` and pinned) the person is asked
in-band, through `input_required` and the client's retry, and the same execution carries on; on
2025-11-25 (`legacy`) the server asks mid-script with `elicitation/create`. Driven by hand on
2026-07-28: two held requests take a round each, an answer after the approval expired and an
altered or another script's `requestState` are refused and send nothing, and a paused execution
resumes after the server is killed and started again."""

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.types import ElicitResult, InputRequiredResult

from codemode import CLOUDFLARE_SPEC, HttpServer, text_of, value_of
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

# Reads two zones, each of which needs the person's approval.
READ_TWO_ZONES = """async () => {
  const first = (await cloudflare.request({ method: "GET", path: "/zones/zone1" })).result.name;
  const second = (await cloudflare.request({ method: "GET", path: "/zones/zone2" })).result.name;
  return [first, second];
}"""


def asking_args(fake_api: FakeCloudflare, tmp_path: Path, approvals: str = "") -> list[str]:
    """`codemode serve` arguments whose policy holds `GET /zones/{zone_id}` for approval."""
    config = tmp_path / "codemode.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[[policy.rules]]\nname = "ask-for-zone"\nmethod = ["GET"]\npath = "/zones/*"\naction = "approve"\n'
        f"{approvals}"
    )
    return ["--spec", CLOUDFLARE_SPEC, "--api-base", fake_api.base, "--config", str(config)]


async def never(_context: object, _params: object) -> ElicitResult:
    """Driven by hand: the SDK must not answer by itself."""
    raise AssertionError("driven by hand: the SDK must not answer by itself")


def accepting(paused: InputRequiredResult) -> dict[str, object]:
    """The retry's arguments answering every input request of `paused` with accept."""
    answers = {key: ElicitResult(action="accept", content={}) for key in paused.input_requests}
    return {"input_responses": answers, "request_state": paused.request_state, "allow_input_required": True}


def question(paused: object) -> str:
    """The one question an `input_required` result asks the person."""
    assert isinstance(paused, InputRequiredResult), paused
    [asked] = paused.input_requests.values()
    return asked.params.message  # type: ignore[union-attr]


def sent(fake_api: FakeCloudflare, path: str) -> int:
    """How many requests for `path` reached the fake API."""
    return sum(1 for r in fake_api.requests if r.path == path)


@pytest.fixture
def asking_server(fake_api: FakeCloudflare, tmp_path: Path) -> Iterator[HttpServer]:
    """`codemode serve` whose policy holds `GET /zones/{zone_id}` for a person's approval."""
    served = HttpServer(asking_args(fake_api, tmp_path), token=TEST_TOKEN)
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
    args = asking_args(fake_api, tmp_path)
    # The key that seals request states must outlive the process, as in any restartable deployment.
    env = {"CODEMODE_REQUEST_STATE_KEY": "python-restart-state-key-0123456789abcdef0123456789"}

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



async def test_an_approval_accepted_after_it_expired_is_refused_and_nothing_is_sent(
    fake_api: FakeCloudflare, tmp_path: Path
) -> None:
    """With `ask_timeout_secs` short, the person's accepting answer comes after the requestState
    expired: the retry gets a clear error and the held request never goes out."""
    served = HttpServer(asking_args(fake_api, tmp_path, "[approvals]\nask_timeout_secs = 0.5\n"), token=TEST_TOKEN)
    try:
        async with Client(served.url, mode="2026-07-28", elicitation_callback=never) as client:
            paused = await client.session.call_tool("execute", {"code": READ_ZONE}, allow_input_required=True)
            assert question(paused).startswith("Approve GET /zones/zone1?\n")
            # Lets the person's time to answer pass; nothing is measured.
            await anyio.sleep(1.5)
            late = await client.session.call_tool("execute", {"code": READ_ZONE}, **accepting(paused))
            assert late.is_error, late
            assert "has expired, so its request was refused and not sent" in text_of(late)
            # The server keeps serving: a new call asks again.
            again = await client.session.call_tool("execute", {"code": READ_ZONE}, allow_input_required=True)
            assert question(again).startswith("Approve GET /zones/zone1?\n")
    finally:
        served.stop()
    assert sent(fake_api, "/zones/zone1") == 0
    assert TEST_TOKEN not in served.stderr()


async def test_two_held_requests_in_one_script_each_take_a_round_and_go_out_once(
    fake_api: FakeCloudflare, tmp_path: Path
) -> None:
    served = HttpServer(asking_args(fake_api, tmp_path), token=TEST_TOKEN)
    try:
        async with Client(served.url, mode="2026-07-28", elicitation_callback=never) as client:
            first = await client.session.call_tool("execute", {"code": READ_TWO_ZONES}, allow_input_required=True)
            assert question(first).startswith("Approve GET /zones/zone1?\n")
            assert sent(fake_api, "/zones/zone1") == 0, "nothing held is sent before its answer"
            second = await client.session.call_tool("execute", {"code": READ_TWO_ZONES}, **accepting(first))
            assert question(second).startswith("Approve GET /zones/zone2?\n")
            assert (sent(fake_api, "/zones/zone1"), sent(fake_api, "/zones/zone2")) == (1, 0)
            done = await client.session.call_tool("execute", {"code": READ_TWO_ZONES}, **accepting(second))
            assert value_of(done) == [ZONES[0]["name"], ZONES[1]["name"]]  # type: ignore[arg-type]
    finally:
        served.stop()
    assert (sent(fake_api, "/zones/zone1"), sent(fake_api, "/zones/zone2")) == (1, 1)


def altered(state: str) -> str:
    """`state` with one character of its sealed body changed."""
    at = len(state) // 2
    while not state[at].isalnum():
        at += 1
    return state[:at] + ("B" if state[at] == "A" else "A") + state[at + 1 :]


async def test_a_forged_or_another_calls_request_state_is_refused_and_changes_nothing(
    fake_api: FakeCloudflare, tmp_path: Path
) -> None:
    """An altered requestState, and one issued for another script, are refused with a clear error;
    nothing is sent, and the genuine state still resumes the execution afterwards."""
    served = HttpServer(asking_args(fake_api, tmp_path), token=TEST_TOKEN)
    try:
        async with Client(served.url, mode="2026-07-28", elicitation_callback=never) as client:
            paused = await client.session.call_tool("execute", {"code": READ_ZONE}, allow_input_required=True)
            other = await client.session.call_tool("execute", {"code": READ_TWO_ZONES}, allow_input_required=True)
            assert isinstance(paused, InputRequiredResult) and isinstance(other, InputRequiredResult)
            forged = accepting(paused) | {"request_state": altered(paused.request_state)}
            borrowed = accepting(paused) | {"request_state": other.request_state}
            for what, retry in [("altered", forged), ("another script's", borrowed)]:
                refused = await client.session.call_tool("execute", {"code": READ_ZONE}, **retry)
                assert refused.is_error, (what, refused)
                assert "requestState is not valid for this call" in text_of(refused), what
            assert sent(fake_api, "/zones/zone1") == 0, "nothing was sent"
            done = await client.session.call_tool("execute", {"code": READ_ZONE}, **accepting(paused))
            assert value_of(done) == ZONES[0]["name"]
    finally:
        served.stop()
    assert sent(fake_api, "/zones/zone1") == 1, "the genuine state resumed the execution once"
    assert sent(fake_api, "/zones/zone2") == 0

"""The official MCP Python SDK over stdio: `codemode stdio --demo` through the low-level
`stdio_client` + `ClientSession`, and `codemode stdio` against the fake Cloudflare API through
the high-level `Client`. The server's stderr goes to a file the tests read afterwards."""

from pathlib import Path

import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from codemode import BINARY, CLOUDFLARE_SPEC, EXECUTE_ZONES, SEARCH_ZONE_OPERATIONS, server_env, text_of, value_of
from fake_cloudflare import ACCOUNT, TEST_TOKEN, ZONES, FakeCloudflare

pytestmark = pytest.mark.anyio


async def test_demo_through_client_session(tmp_path: Path) -> None:
    # The token is set but unused by the demo API: it still must not surface anywhere.
    params = StdioServerParameters(command=BINARY, args=["stdio", "--demo"], env=server_env(TEST_TOKEN))
    log = tmp_path / "stderr.log"
    with log.open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            initialized = await session.initialize()
            assert initialized.server_info.name == "codemode"
            found = await session.call_tool("search", {"code": "async () => Object.keys(spec.paths)"})
            made = await session.call_tool(
                "execute",
                {
                    "code": """async () => {
                      console.log("listing zones");
                      const zones = (await cloudflare.request({ method: "GET", path: "/zones" })).result;
                      return { count: zones.length, account: accountId };
                    }"""
                },
            )
    assert "/zones" in value_of(found)
    value = value_of(made)
    assert value["count"] >= 1
    assert len(value["account"]) == 32
    assert "listing zones" in text_of(made)
    stderr = log.read_text()
    assert TEST_TOKEN not in found.model_dump_json() + made.model_dump_json() + stderr
    assert "panick" not in stderr


async def test_fake_api_through_high_level_client(tmp_path: Path, fake_api: FakeCloudflare) -> None:
    params = StdioServerParameters(
        command=BINARY,
        args=["stdio", "--spec", CLOUDFLARE_SPEC, "--api-base", fake_api.base],
        env=server_env(TEST_TOKEN),
    )
    log = tmp_path / "stderr.log"
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            assert client.server_info is not None and client.server_info.name == "codemode"
            found = await client.call_tool("search", {"code": SEARCH_ZONE_OPERATIONS})
            made = await client.call_tool("execute", {"code": EXECUTE_ZONES})
    assert value_of(found)[0] == ["/zones", ["get", "post"]]
    value = value_of(made)
    assert value["names"] == ["example.com", "example.org"]
    assert value["first"] == ZONES[0]
    assert value["account"] == ACCOUNT["id"]
    assert {r.authorization for r in fake_api.requests} == {f"Bearer {TEST_TOKEN}"}
    stderr = log.read_text()
    assert TEST_TOKEN not in found.model_dump_json() + made.model_dump_json() + stderr
    assert "panick" not in stderr

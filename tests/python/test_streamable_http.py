"""The official MCP Python SDK over Streamable HTTP: its high-level `Client` and its low-level
`ClientSession`, each running a real search and a real execute against the fake Cloudflare API."""

import logging

import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from codemode import EXECUTE_ZONES, SEARCH_ZONE_OPERATIONS, HttpServer, text_of, value_of
from fake_cloudflare import ACCOUNT, TEST_TOKEN, ZONES, FakeCloudflare

pytestmark = pytest.mark.anyio


def check_search(result: CallToolResult) -> None:
    """The search found both zone paths of the Cloudflare spec with their methods."""
    assert value_of(result) == [["/zones", ["get", "post"]], ["/zones/{zone_id}/dns_records", ["get", "post"]]]


def check_execute(result: CallToolResult, api: FakeCloudflare) -> None:
    """The execute listed the zones, read the first and found the account, all through the fake API."""
    value = value_of(result)
    assert value["names"] == [zone["name"] for zone in ZONES]
    assert value["first"] == ZONES[0]
    assert value["account"] == ACCOUNT["id"]
    assert "zones: 2" in text_of(result)
    assert {(r.method, r.path) for r in api.requests} == {("GET", "/zones"), ("GET", "/zones/zone1"), ("GET", "/accounts")}
    assert {r.authorization for r in api.requests} == {f"Bearer {TEST_TOKEN}"}


def check_no_leak(results: list[CallToolResult], server: HttpServer) -> None:
    """The token is in no tool result and not in the server's log."""
    for result in results:
        assert TEST_TOKEN not in result.model_dump_json()
    assert TEST_TOKEN not in server.stderr()
    assert "panick" not in server.stderr()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_high_level_client(server: HttpServer, fake_api: FakeCloudflare, mode: str) -> None:
    async with Client(server.url, mode=mode) as client:
        assert client.server_info is not None and client.server_info.name == "codemode"
        assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        tools = await client.list_tools()
        assert sorted(tool.name for tool in tools.tools) == ["execute", "search"]
        found = await client.call_tool("search", {"code": SEARCH_ZONE_OPERATIONS})
        made = await client.call_tool("execute", {"code": EXECUTE_ZONES})
    check_search(found)
    check_execute(made, fake_api)
    check_no_leak([found, made], server)


async def test_low_level_client_session(server: HttpServer, fake_api: FakeCloudflare) -> None:
    async with streamable_http_client(server.url) as (read, write), ClientSession(read, write) as session:
        initialized = await session.initialize()
        assert initialized.server_info.name == "codemode"
        assert initialized.capabilities.tools is not None
        tools = await session.list_tools()
        assert sorted(tool.name for tool in tools.tools) == ["execute", "search"]
        found = await session.call_tool("search", {"code": SEARCH_ZONE_OPERATIONS})
        made = await session.call_tool("execute", {"code": EXECUTE_ZONES})
        failed = await session.call_tool("execute", {"code": 'async () => cloudflare.request({ method: "GET", path: "/nowhere" })'})
    check_search(found)
    check_execute(made, fake_api)
    assert failed.is_error
    assert "GET /nowhere is not an operation of the API spec" in text_of(failed)
    assert "/nowhere" not in [r.path for r in fake_api.requests]
    check_no_leak([found, made, failed], server)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_closing_a_session_logs_no_warning(
    server: HttpServer, fake_api: FakeCloudflare, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK ends its session with DELETE on close and takes only 200 or 204 as done."""
    caplog.set_level(logging.DEBUG, logger="mcp.client.streamable_http")
    async with Client(server.url, mode=mode) as client:
        await client.call_tool("search", {"code": "async () => 1"})
    assert [r.getMessage() for r in caplog.records if "termination" in r.getMessage()] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []

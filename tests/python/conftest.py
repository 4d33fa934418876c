"""Fixtures: a fake Cloudflare API, and `codemode serve` pointed at it with the test token."""

from collections.abc import Iterator

import pytest

from codemode import CLOUDFLARE_SPEC, HttpServer
from fake_cloudflare import TEST_TOKEN, FakeCloudflare


@pytest.fixture
def anyio_backend() -> str:
    """The SDK runs on anyio; the tests run it on asyncio."""
    return "asyncio"


@pytest.fixture
def fake_api() -> Iterator[FakeCloudflare]:
    """A fresh fake Cloudflare API for one test."""
    api = FakeCloudflare()
    yield api
    api.close()


@pytest.fixture
def server(fake_api: FakeCloudflare) -> Iterator[HttpServer]:
    """`codemode serve` with the Cloudflare spec, calling the fake API with the test token."""
    served = HttpServer(["--spec", CLOUDFLARE_SPEC, "--api-base", fake_api.base], token=TEST_TOKEN)
    yield served
    served.stop()

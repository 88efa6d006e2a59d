"""Fixtures that start real registries on loopback for the integration tests.

Every test in this directory is marked `integration`. When the registry binary
(or skopeo, for oracle tests) is missing the tests skip locally, but fail when
`CI=true`: in CI the integration tests must run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.images import Pusher, RegistryEndpoint
from tests.support.oracle import OracleEndpoint, skopeo_available, skopeo_digest
from tests.support.registry import RegistryServer, TokenServer, Variant
from tests.support.requirements import require_registry, require_tool

_HERE = Path(__file__).resolve().parent
VARIANTS = tuple(v.value for v in Variant)
StartRegistry = Callable[[Variant | str], RegistryServer]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Hooks in a conftest see the whole session's items: mark only ours.
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


def _start(variant: str, factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    require_registry()
    with RegistryServer.start(variant, factory.mktemp(f"registry-{variant}")) as server:
        yield server


@pytest.fixture(scope="session")
def registry_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from _start("plain", tmp_path_factory)


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from _start("basic", tmp_path_factory)


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from _start("tls", tmp_path_factory)


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from _start("token", tmp_path_factory)


@pytest.fixture
def token_server(registry_token: RegistryServer) -> Iterator[TokenServer]:
    """The token registry's token server, counters and options reset around the test."""
    assert registry_token.token_server is not None
    registry_token.token_server.reset()
    yield registry_token.token_server
    registry_token.token_server.reset()


@pytest.fixture
def start_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartRegistry]:
    """`start_registry(variant)`: a registry of this test's own, stopped after the test.

    For tests that change or stop a server; everything else shares the session ones.
    """
    require_registry()
    started: list[RegistryServer] = []

    def start(variant: Variant | str) -> RegistryServer:
        workdir = tmp_path_factory.mktemp(f"own-registry-{Variant(variant)}")
        started.append(RegistryServer.start(variant, workdir))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=VARIANTS)
def any_registry(request: pytest.FixtureRequest) -> RegistryServer:
    """Each of the four session registries in turn."""
    server: RegistryServer = request.getfixturevalue(f"registry_{request.param}")
    return server


_pushers: dict[tuple[str, str | None, str | None, Path | None], Pusher] = {}


def pusher(server: RegistryEndpoint) -> Pusher:
    """A pusher for `server`, cached for the session (closed at session end)."""
    key = (server.url, server.username, server.password, server.ca_file)
    if key not in _pushers:
        _pushers[key] = Pusher(server)
    return _pushers[key]


@pytest.fixture(scope="session", autouse=True)
def _close_pushers() -> Iterator[None]:
    yield
    while _pushers:
        _pushers.popitem()[1].close()


@pytest.fixture(scope="session")
def pusher_for() -> Callable[[RegistryEndpoint], Pusher]:
    """`pusher_for(server)`: the session's pusher for that server."""
    return pusher


@pytest.fixture(scope="session")
def oracle() -> Callable[[OracleEndpoint, str, str], str]:
    """`oracle(server, repo, ref)`: skopeo's digest; skips (fails in CI) without skopeo."""
    require_tool(skopeo_available(), "skopeo", "skopeo")
    return skopeo_digest

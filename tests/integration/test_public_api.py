"""The public Python API, used only through `from truedigest import …`, against the
real registry and a real CP on loopback (issue 8: these names stay)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial

import pytest

from tests.support.cpserver import CPServer, make_pin
from tests.support.images import Pusher, build_image, push_image
from tests.support.registry import RegistryServer
from truedigest import (
    ExitCode,
    TruedigestError,
    parse_reference,
    parse_repository,
    resolve,
    verify,
)

PusherFor = Callable[[RegistryServer], Pusher]


def test_parse_reference_is_fully_qualified() -> None:
    ref = parse_reference("alpine")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "registry-1.docker.io",
        "library/alpine",
        "latest",
        None,
    )
    assert str(ref) == "registry-1.docker.io/library/alpine:latest"
    assert str(parse_repository("localhost:5000/team/app")) == "localhost:5000/team/app"


def test_a_malformed_reference_is_a_usage_error() -> None:
    with pytest.raises(TruedigestError) as caught:
        parse_reference("Team/App")
    assert caught.value.exit_code is ExitCode.USAGE
    assert int(caught.value.exit_code) == 2


def test_resolve_hashes_what_the_registry_serves(
    registry_plain: RegistryServer, pusher_for: PusherFor
) -> None:
    image = build_image("api/app", salt="public-api-resolve")
    push_image(pusher_for(registry_plain), "api/app", image, "v1")

    resolved = resolve(f"{registry_plain.host}/api/app:v1", plain_http=True)

    assert str(resolved.digest) == "sha256:" + hashlib.sha256(image.manifest).hexdigest()
    assert resolved.size == len(image.manifest)


def test_resolve_of_an_absent_tag_raises_with_exit_code_10(registry_plain: RegistryServer) -> None:
    with pytest.raises(TruedigestError) as caught:
        resolve(f"{registry_plain.host}/api/app:never-pushed", plain_http=True)
    assert caught.value.exit_code == 10


def test_verify_returns_a_report_agree_then_mismatch(
    registry_plain: RegistryServer, pusher_for: PusherFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = "api/verified"
    current = build_image(repo, salt="public-api-current")
    old = build_image(repo, salt="public-api-old")
    pusher = pusher_for(registry_plain)
    push_image(pusher, repo, old, "old")
    push_image(pusher, repo, current, "v2")
    ref = f"{registry_plain.host}/{repo}:v2"
    monkeypatch.setenv("API_TEST_CP_TOKEN", "public-api-token")

    with CPServer.start(token="public-api-token", pins=[make_pin("app", current.digest)]) as cp:
        check = partial(
            verify,
            ref,
            cps={"prod": cp.url},
            cp_token_envs={"prod": "API_TEST_CP_TOKEN"},
            template="app",
            plain_http=True,
        )
        agree = check(build_digest=current.digest)
        cp.set_pins([make_pin("app", old.digest)])
        stale = check()

    assert (agree.verdict, agree.exit_code, str(agree.truth)) == ("agree", 0, current.digest)
    assert stale.exit_code == 1
    [cp_source] = [s for s in stale.to_json()["sources"] if s["id"] == "cp:prod"]
    assert (cp_source["status"], cp_source["relation"]) == ("mismatch", "other-image")

"""run_verify: a relation the registry would not tell is in the detail, `-v` shows why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import cli_env, run_cli_many
from tests.support.hostile import Answer, HostileServer, Request, assert_safe
from tests.support.images import build_image
from truedigest.oci.digest import Digest

UNKNOWN_ANSWERS = {
    # 401 with a Basic challenge and no credentials: an auth error, not "no relation".
    "401": Answer(401, [("WWW-Authenticate", 'Basic realm="registry"')], b"{}"),
    # 429 every time (Retry-After: 0, so the bounded retries cost no time).
    "429": Answer(
        429,
        [("Retry-After", "0"), ("Content-Type", "application/json")],
        b'{"errors":[{"code":"TOOMANYREQUESTS"}]}',
    ),
}

REASONS = {"401": "requires a username and password", "429": "rate limited (HTTP 429)"}


@pytest.mark.parametrize("refusal", sorted(UNKNOWN_ANSWERS))
def test_why_a_relation_is_unknown_is_in_the_detail_and_v_shows_the_cause(
    tmp_path: Path, refusal: str
) -> None:
    """The tag reads fine; the lookup of the build's digest is refused (401 or 429)."""
    image = build_image("team/app", salt="truth")
    claimed = Digest.parse(build_image("team/app", salt="pushed").digest)
    tag_path = "/v2/team/app/manifests/v1"

    def handler(request: Request) -> Answer:
        if request.path == tag_path:
            headers = [("Content-Type", image.media_type)]
            return Answer(200, [*headers, ("Docker-Content-Digest", image.digest)], image.manifest)
        return UNKNOWN_ANSWERS[refusal]

    with HostileServer(handler) as registry:
        ref = f"{registry.host}/team/app:v1"
        args = ["verify", "--plain-http", "--image", ref, "--build-digest", str(claimed)]
        quiet, verbose = run_cli_many(
            [
                ([*args, "-o", "json"], cli_env(tmp_path)),
                ([*args, "-o", "json", "-v"], cli_env(tmp_path)),
            ]
        )
        lookups = registry.count(lambda r: str(claimed) in r.path)

    for result in (quiet, verbose):
        assert_safe(result, code=1, one_error_line=False)
        build = result.source("build:digest")
        assert (build["status"], build["relation"]) == ("mismatch", None)
        assert build["digest"] == str(claimed)
        _, _, reason = build["detail"].partition("; how it relates to the truth is unknown: ")
        assert REASONS[refusal] in reason, build
    assert lookups >= 2  # each run asked (the 429 ones with bounded retries)
    causes = [line for line in verbose.stderr.splitlines() if line.startswith("cause: ")]
    assert len(causes) == 1, str(verbose)
    assert causes[0].startswith("cause: build:digest: relation unknown: ")
    error_class = "AuthError" if refusal == "401" else "RegistryError"
    assert error_class in causes[0]
    assert not [line for line in quiet.stderr.splitlines() if line.startswith("cause: ")]

"""`verify` with nothing to compare is a usage error that says what to add.

`--image X` alone (or the same tag twice, or with --template, which only selects
CP pin rows) used to resolve X and report "all 1 sources agree": a pass that
checked nothing. (`--git-sha` or `--require-revision` alone is a commit check of the
image: tests/integration/test_verify_identity.py.) Now it is exit 2 before any request, with
one `error:` line and a hint naming the sources that can be added. The public
API's `truedigest.verify()` refuses it the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from tests.support.respx_registry import REF, FakeRegistry
from truedigest import TruedigestError
from truedigest import verify as api_verify
from truedigest.errors import ExitCode


def assert_nothing_to_compare(result: Result, registry: FakeRegistry) -> list[str]:
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: nothing to compare: --image {REF} is the only source")
    (hint,) = [line for line in lines if line.startswith("hint:")]
    for option in ("--image", "--cp NAME=URL", "--template", "--build-digest", "--pin-file"):
        assert option in hint, option
    assert not registry.router.calls, "a usage error is found before any request"
    assert "all 1 sources agree" not in result.output
    return lines


@pytest.mark.parametrize(
    "args",
    [
        ["--image", REF],
        ["--image", REF, "--image", REF],  # one tag twice is one source
        ["--image", REF, "-o", "json"],
        ["--image", REF, "--platform", "linux/amd64", "--wait", "5"],
    ],
    ids=["alone", "twice", "json", "platform-wait"],
)
def test_one_image_alone_is_a_usage_error(registry: FakeRegistry, args: list[str]) -> None:
    lines = assert_nothing_to_compare(registry.run(["verify", *args]), registry)
    assert len(lines) == 2, lines


def test_template_alone_warns_and_is_a_usage_error(registry: FakeRegistry) -> None:
    result = registry.run(["verify", "--image", REF, "--template", "app"])

    lines = assert_nothing_to_compare(result, registry)
    assert lines[0].startswith("warning: --template selects CP pin rows"), lines


def test_report_files_are_not_touched(registry: FakeRegistry, tmp_path: Path) -> None:
    outputs, summary = tmp_path / "out", tmp_path / "summary.md"
    result = registry.run(
        ["verify", "--image", REF, "--github-output", str(outputs), "--summary-file", str(summary)]
    )

    assert_nothing_to_compare(result, registry)
    assert not outputs.exists()
    assert not summary.exists()


def test_the_public_api_refuses_it_too() -> None:
    with pytest.raises(TruedigestError) as caught:
        api_verify([REF, REF])

    assert caught.value.exit_code == ExitCode.USAGE
    assert "nothing to compare" in caught.value.message

"""`truedigest verify` flag handling through click's CliRunner.

The registry and the CP are one `httpx.MockTransport` (the CP client shares the
registry client's transport): the `fake` fixture passes the CLI a `Wiring` that
builds the real RegistryClient on it, so nothing here touches the network and
every request the command made can be counted. Manifest bytes come from
`tests.support.images`; expected digests are sha256 of those bytes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from tests.support.images import Image, build_image
from truedigest.cli.main import cli
from truedigest.cli.wiring import Wiring
from truedigest.oci.auth import CredentialStore
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions

REG = "registry.test"
REPO = "team/app"
TAG = "v1"
REF = f"{REG}/{REPO}:{TAG}"
CP_URL = "https://cp.test"
CP_PATH = "/cp/admin/runtime-image"
TOKEN = "cp-" + secrets.token_hex(12)
# Everything the command (or click's envvar defaults) could read from the runner's env.
_UNSET = (
    "GITHUB_ACTIONS",
    "GITEA_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "TRUEDIGEST_CP",
    "TRUEDIGEST_CP_TOKEN_ENV",
    "TRUEDIGEST_OUTPUT",
    "TRUEDIGEST_PLAIN_HTTP",
    "TRUEDIGEST_VERIFY_SUMMARY_FILE",
    "TRUEDIGEST_VERIFY_GITHUB_OUTPUT",
    "CP_ADMIN_API_TOKEN",
)


@dataclass
class Fake:
    """A registry serving `images` by tag and digest, and a CP serving `pins`."""

    images: dict[str, Image] = field(default_factory=dict)
    pins: list[dict[str, Any]] = field(default_factory=list)
    registry_status: int | None = None  # answer every registry request with this status
    requests: list[httpx.Request] = field(default_factory=list)
    wiring: Wiring | None = None  # builds the CLI's registry client on `handle`

    def invoke(self, args: list[str], env: Mapping[str, str] | None = None) -> Result:
        """`truedigest verify ARGS` on this registry and CP."""
        return invoke(args, env, self.wiring)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "cp.test":
            return self._cp(request)
        if self.registry_status is not None:
            return httpx.Response(self.registry_status, json={"errors": [{"code": "UNKNOWN"}]})
        prefix = f"/v2/{REPO}/manifests/"
        path = request.url.path
        if request.method == "GET" and path.startswith(prefix):
            wanted = path.removeprefix(prefix)
            for tag, image in self.images.items():
                if wanted in (tag, image.digest):
                    return httpx.Response(
                        200,
                        content=image.manifest,
                        headers={
                            "Content-Type": image.media_type,
                            "Docker-Content-Digest": image.digest,
                        },
                    )
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    def _cp(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != CP_PATH:
            return httpx.Response(404)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(403, json={"error": "forbidden"})
        return httpx.Response(200, json={"pins": self.pins})

    @property
    def cp_requests(self) -> int:
        return sum(1 for r in self.requests if r.url.host == "cp.test")

    @property
    def registry_requests(self) -> int:
        return sum(1 for r in self.requests if r.url.host == REG)


@pytest.fixture(scope="module")
def current() -> Image:
    return build_image(REPO, salt="cli current")


@pytest.fixture(scope="module")
def old() -> Image:
    return build_image(REPO, salt="cli old")


@pytest.fixture
def fake(tmp_path: Path, current: Image, old: Image) -> Fake:
    state = Fake(images={TAG: current, "old": old})
    transport = httpx.MockTransport(state.handle)

    def client(options: ClientOptions) -> RegistryClient:
        return RegistryClient(
            options, transport=transport, credentials=CredentialStore(env={"HOME": str(tmp_path)})
        )

    state.wiring = Wiring(registry_client=client)
    return state


def pin(digest: str, template: str = "app") -> dict[str, Any]:
    return {
        "template_name": template,
        "region": "global",
        "image_digest": digest,
        "image_ref": f"{REG}/{REPO}@{digest}",
    }


def invoke(
    args: list[str], env: Mapping[str, str] | None = None, wiring: Wiring | None = None
) -> Result:
    full_env: dict[str, str | None] = dict.fromkeys(_UNSET)
    full_env["CP_ADMIN_API_TOKEN"] = TOKEN
    full_env.update(env or {})
    return CliRunner().invoke(
        cli, ["verify", *args], env=full_env, catch_exceptions=False, obj=wiring
    )


def cp(*extra: str) -> list[str]:
    return ["--cp", f"prod={CP_URL}", "--template", "app", *extra]


def assert_usage(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: "), result.stderr
    assert any(line.startswith("hint: ") for line in lines[1:]), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], result.stderr


# --------------------------------------------------------------------------- usage errors


def test_two_build_sources(fake: Fake, tmp_path: Path, current: Image) -> None:
    digest_file = tmp_path / "digest"
    digest_file.write_text(current.digest)

    result = fake.invoke(
        ["--image", REF, "--build-digest", current.digest, "--digest-file", str(digest_file)]
    )

    assert_usage(result, "at most one build source", "--build-digest", "--digest-file")
    assert fake.requests == []


def test_cp_without_template(fake: Fake) -> None:
    result = fake.invoke(["--image", REF, "--cp", f"prod={CP_URL}"])

    assert_usage(result, "--template")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("prod", "expected NAME=URL"),
        ("=https://cp.test", "expected NAME=URL"),
        ("prod=", "expected NAME=URL"),
        ("prod=ftp://cp.test", "not an http(s) URL"),
        ("prod=cp.test", "not an http(s) URL"),
        ("pr/od=https://cp.test", "NAME may hold"),
    ],
)
def test_bad_cp_value(fake: Fake, value: str, words: str) -> None:
    result = fake.invoke(["--image", REF, "--cp", value, "--template", "app"])

    assert_usage(result, words)
    assert fake.requests == []


def test_cp_url_with_credentials_is_refused_without_echoing_them(fake: Fake) -> None:
    secret = secrets.token_hex(8)

    result = fake.invoke(["--image", REF, "--cp", f"prod=https://admin:{secret}@cp.test"])

    assert_usage(result, "carries credentials")
    assert secret not in result.output
    assert fake.requests == []


@pytest.mark.parametrize("suffix", ["/?token={}", "/api?x=1&token={}", "/#{}"])
def test_cp_url_with_a_query_is_refused_without_echoing_it(fake: Fake, suffix: str) -> None:
    secret = secrets.token_hex(8)

    result = fake.invoke(
        ["--image", REF, "--cp", f"prod={CP_URL}{suffix.format(secret)}", *cp()[2:]]
    )

    assert_usage(result, "query or fragment")
    assert secret not in result.output
    assert fake.requests == []


def test_cp_url_with_a_trailing_slash(fake: Fake, current: Image) -> None:
    fake.pins = [pin(current.digest)]

    result = fake.invoke(["--image", REF, "--cp", f"prod={CP_URL}/", "--template", "app"])

    assert result.exit_code == 0, result.output
    assert [str(r.url) for r in fake.requests if r.url.host == "cp.test"] == [CP_URL + CP_PATH]


def test_duplicate_cp_names(fake: Fake) -> None:
    result = fake.invoke(["--image", REF, *cp(), "--cp", f"prod={CP_URL}/other"])

    assert_usage(result, "unique", "prod")


def test_cp_token_env_naming_an_unknown_cp(fake: Fake) -> None:
    result = fake.invoke(["--image", REF, *cp("--cp-token-env", "staging=STAGING_TOKEN")])

    assert_usage(result, "staging")
    assert fake.requests == []


@pytest.mark.parametrize("value", ["prod", "prod=", "prod=NOT-A-VAR", "prod=$TOKEN"])
def test_bad_cp_token_env_value(fake: Fake, value: str) -> None:
    result = fake.invoke(["--image", REF, *cp("--cp-token-env", value)])

    assert_usage(result, "--cp-token-env")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--image", "Team/App:v1"], "--image"),
        (["--image", REF, "--platform", "linux"], "--platform"),
        (["--image", REF, "--build-digest", "sha256:abc"], "--build-digest"),
        (["--image", REF, "--build-digest", f"{REF}@sha256:{'a' * 64}"], "reference"),
        (["--image", REF, "--build-target", "web"], "--build-metadata"),
        (["--image", REF, "--wait", "-1"], "--wait"),
        (["--image", REF, "-o", "yaml"], "--output"),
        (["--image", REF, "--git-sha", "main"], "--git-sha"),
        (["--image", REF, "--git-sha", "1a2b3c"], "--git-sha"),
        ([], "--image"),
    ],
)
def test_other_usage_errors(fake: Fake, args: list[str], words: str) -> None:
    result = fake.invoke(args)

    assert_usage(result, words)
    assert fake.requests == []


def test_cp_and_token_env_from_environment(fake: Fake, current: Image) -> None:
    """TRUEDIGEST_CP / TRUEDIGEST_CP_TOKEN_ENV: whitespace-separated, like repeated flags."""
    fake.pins = [pin(current.digest)]

    result = fake.invoke(
        ["--image", REF, "--template", "app", "-o", "json"],
        {
            "TRUEDIGEST_CP": f"prod={CP_URL}  staging={CP_URL}",
            "TRUEDIGEST_CP_TOKEN_ENV": "staging=STAGING_TOKEN",
            "STAGING_TOKEN": TOKEN,
            "CP_ADMIN_API_TOKEN": TOKEN,
        },
    )

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["id"] for s in doc["sources"]] == [f"registry:{REF}", "cp:prod", "cp:staging"]
    assert fake.cp_requests == 2


# --------------------------------------------------------------------------- outputs


def test_summary_file_appends_a_table_per_run(fake: Fake, tmp_path: Path, current: Image) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    fake.pins = [pin(current.digest)]

    first = fake.invoke(["--image", REF, *cp(), "--summary-file", str(summary)])
    fake.pins = [pin(current.digest, "other")]
    second = fake.invoke(["--image", REF, *cp()], {"GITHUB_STEP_SUMMARY": str(summary)})

    assert (first.exit_code, second.exit_code) == (0, 1), first.output + second.output
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == ["### ✅ truedigest verify: agree", "### ❌ truedigest verify: mismatch"]
    assert text.count("| source | digest | status | relation | where |") == 2
    assert f"`{current.digest}`" in text
    assert "| cp:prod |" in text
    assert "missing" in text
    # Each run's summary ends with its verdict, after the table and its notes.
    assert text.count("**verdict: ") == 2
    assert text.rstrip().splitlines()[-1].startswith("**verdict: mismatch (exit 1)")


@dataclass(frozen=True)
class Outcome:
    name: str
    exit_code: int
    verdict: str
    digest_line: bool


def test_github_output_verdict_always_digest_only_when_read(
    fake: Fake, tmp_path: Path, current: Image
) -> None:
    fake.pins = [pin(current.digest)]
    runs: list[tuple[list[str], Outcome, dict[str, str]]] = [
        (["--image", REF], Outcome("agree", 0, "agree", True), {}),
        (["--image", f"{REG}/{REPO}:old"], Outcome("stale", 1, "mismatch", True), {}),
        (["--image", f"{REG}/{REPO}:gone"], Outcome("absent", 10, "absent", False), {}),
        (["--image", REF], Outcome("cp-error", 3, "unavailable", True), {"CP_ADMIN_API_TOKEN": ""}),
    ]
    for args, outcome, env in runs:
        out = tmp_path / f"{outcome.name}.out"
        out.write_text("earlier=1\n")

        result = fake.invoke([*args, *cp(), "--github-output", str(out)], env)

        assert result.exit_code == outcome.exit_code, (outcome, result.output)
        lines = out.read_text().splitlines()
        expected = ["earlier=1", f"verdict={outcome.verdict}"]
        if outcome.digest_line:
            served = current if outcome.name != "stale" else fake.images["old"]
            expected.append(f"digest={served.digest}")
        assert lines == expected, outcome


def test_github_output_when_the_registry_fails(fake: Fake, tmp_path: Path) -> None:
    fake.registry_status = 500
    out = tmp_path / "out"

    result = fake.invoke(
        ["--image", REF, "--image", f"{REG}/{REPO}:v2"], {"GITHUB_OUTPUT": str(out)}
    )

    assert result.exit_code == 3, result.output
    assert out.read_text() == "verdict=unavailable\n"


def test_github_output_unwritable_is_a_usage_error(fake: Fake, tmp_path: Path) -> None:
    result = fake.invoke(
        ["--image", REF, *cp(), "--github-output", str(tmp_path / "no" / "such" / "file")]
    )

    assert result.exit_code == 2, result.output
    assert "error: --github-output" in result.stderr


@pytest.mark.parametrize("variable", ["GITHUB_ACTIONS", "GITEA_ACTIONS"])
def test_annotations_in_actions_never_inside_json(
    fake: Fake, current: Image, old: Image, variable: str
) -> None:
    fake.pins = [pin(old.digest)]

    result = fake.invoke(
        ["--image", REF, *cp(), "--build-digest", current.digest, "-o", "json"],
        {variable: "true"},
    )

    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert doc["verdict"] == "mismatch"
    assert "::" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("::")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("::error title=truedigest cp%3Aprod%3A mismatch::")
    assert old.digest in errors[0]
    assert "[other-image]" in errors[0]


def test_annotations_with_table_output(fake: Fake, current: Image) -> None:
    fake.pins = [pin(current.digest, "other")]

    result = fake.invoke(["--image", REF, *cp()], {"GITHUB_ACTIONS": "true"})

    assert result.exit_code == 1, result.output
    # Annotations go to stderr (runners read both streams): stdout stays the table.
    assert "::" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1, result.stderr
    assert "cp%3Aprod%3A missing" in errors[0]


def test_agree_in_actions_is_a_notice(fake: Fake, current: Image) -> None:
    fake.pins = [pin(current.digest)]

    result = fake.invoke(["--image", REF, *cp(), "-o", "json"], {"GITHUB_ACTIONS": "true"})

    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert "::error" not in result.output
    assert "::notice title=truedigest::verdict: agree" in result.stderr


def test_no_annotations_outside_actions(fake: Fake, old: Image) -> None:
    fake.pins = [pin(old.digest)]

    result = fake.invoke(["--image", REF, *cp()], {"GITHUB_ACTIONS": "false"})

    assert result.exit_code == 1, result.output
    assert "::" not in result.output


def test_markdown_output(fake: Fake, current: Image, old: Image) -> None:
    fake.pins = [pin(old.digest)]

    result = fake.invoke(
        ["--image", REF, *cp(), "--build-digest", current.digest, "-o", "markdown"]
    )

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    # The terminal's structure: table (short digests), numbered notes (full digests), verdict.
    assert lines[0] == "### ❌ truedigest verify: mismatch"
    assert lines[2] == "| source | digest | status | relation | where |"
    assert lines[3] == "|---|---|---|---|---|"
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[4:7]}
    assert set(rows) == {f"registry:{REF}", "cp:prod", "build:digest"}
    assert f"`{old.digest[:19]}` | mismatch | other-image |" in rows["cp:prod"]
    assert f"`{current.digest[:19]}` | ok | identical |" in rows["build:digest"]
    assert lines[7] == ""
    assert lines[8].startswith("1. **cp:prod**: ")
    assert f"`{old.digest}`" in lines[8]
    assert lines[-1].startswith("**verdict: mismatch (exit 1): 1 of 3 sources disagree")
    assert result.stderr.startswith("verdict: mismatch (exit 1)")


def test_json_output_on_agree(fake: Fake, current: Image) -> None:
    fake.pins = [pin(current.digest)]

    result = fake.invoke(["--image", REF, *cp(), "-o", "json"])

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "truedigest.verify/v1"
    assert (doc["verdict"], doc["exit_code"], doc["truth"]) == ("agree", 0, current.digest)
    assert fake.registry_requests == 1
    assert fake.cp_requests == 1
    assert TOKEN not in result.output


def test_a_repeated_image_is_one_source(fake: Fake, current: Image) -> None:
    result = fake.invoke(
        ["--image", REF, "--image", REF, "--image", f"{REG}/{REPO}:old", "-o", "json"]
    )

    assert result.exit_code == 1, result.output
    ids = [s["id"] for s in json.loads(result.stdout)["sources"]]
    assert ids == [f"registry:{REF}", f"registry:{REG}/{REPO}:old"]


def test_missing_pin_file_is_a_usage_error_before_any_request(fake: Fake, tmp_path: Path) -> None:
    result = fake.invoke(["--image", REF, "--pin-file", str(tmp_path / "absent.yaml")])

    assert_usage(result, "--pin-file", "no such file")
    assert fake.requests == []


def test_hints_follow_the_verdict_line(fake: Fake) -> None:
    fake.registry_status = 500

    result = fake.invoke(["--image", REF, *cp()], {"CP_ADMIN_API_TOKEN": ""})

    assert result.exit_code == 3, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "verdict: unavailable (exit 3): 2 of 2 sources could not be read, the registry among "
        "them, so nothing could be compared"
    )
    assert lines[1] == "hint: the registry is failing; retry later"
    assert lines[2].startswith("hint: export CP_ADMIN_API_TOKEN")
    assert len(lines) == 3


@pytest.mark.parametrize("sha", ["1a2b3c4", "1A2B3C4D", "0" * 40, "f" * 64])
def test_git_sha_accepts_short_and_full_shas(fake: Fake, current: Image, sha: str) -> None:
    fake.pins = [pin(current.digest) | {"git_sha": sha.lower()}]

    result = fake.invoke(["--image", REF, *cp(), "--git-sha", sha])

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_a_cp_field_cannot_inject_workflow_commands(fake: Fake, current: Image, fmt: str) -> None:
    row = pin(current.digest)
    row["git_sha"] = "zz\n::add-mask::x\n::error::injected\x1b[2J"
    row["image_ref"] = f"{REG}/other@{current.digest}\n::warning::also injected"
    fake.pins = [row]

    result = fake.invoke(["--image", REF, *cp("--git-sha", "1a2b3c4"), "-o", fmt])

    assert result.exit_code == 1, result.output
    for line in result.output.splitlines():
        assert not line.startswith("::"), line
    assert "\x1b" not in result.output


@pytest.mark.parametrize(
    "value",
    [
        "https://user:s3cr3t-in-url@cp.test",
        "prod=ftp://user:s3cr3t-in-url@cp.test",
        "pr od=https://user:s3cr3t-in-url@cp.test",
        "prod=https://user:s3cr3t-in-url@cp.test",
        "prod=https://cp.test/?token=s3cr3t-in-url",
    ],
)
def test_a_bad_cp_value_never_echoes_its_secrets(value: str) -> None:
    result = invoke(["--image", REF, "--cp", value, "--template", "app"])
    assert_usage(result)
    assert "s3cr3t-in-url" not in result.output


def test_an_explicit_git_sha_fails_a_row_that_records_none(fake: Fake, current: Image) -> None:
    fake.pins = [pin(current.digest)]  # no git_sha in the row

    result = fake.invoke(["--image", REF, *cp("--git-sha", "1a2b3c4"), "-o", "json"])

    assert result.exit_code == 1, result.output
    (row,) = [s for s in json.loads(result.stdout)["sources"] if s["id"] == "cp:prod"]
    assert (row["status"], row["relation"]) == ("mismatch", "identical")
    assert "no git_sha to compare with --git-sha 1a2b3c4" in row["detail"]


def test_a_sha_tag_does_not_fail_a_row_that_records_no_git_sha(fake: Fake, current: Image) -> None:
    fake.images["sha-1a2b3c4"] = current
    fake.pins = [pin(current.digest)]

    result = fake.invoke(["--image", f"{REG}/{REPO}:sha-1a2b3c4", *cp(), "-o", "json"])

    assert result.exit_code == 0, result.output


def test_a_sha_tag_still_fails_a_row_with_another_commit(fake: Fake, current: Image) -> None:
    fake.images["sha-1a2b3c4"] = current
    row = pin(current.digest)
    row["git_sha"] = "fffffff"
    fake.pins = [row]

    result = fake.invoke(["--image", f"{REG}/{REPO}:sha-1a2b3c4", *cp(), "-o", "json"])

    assert result.exit_code == 1, result.output
    assert "'fffffff' is not the expected commit 1a2b3c4" in result.stdout


def test_template_without_cp_is_warned_about(fake: Fake, current: Image) -> None:
    result = fake.invoke(["--image", REF, "--template", "app", "--build-digest", current.digest])

    assert result.exit_code == 0, result.output
    assert "warning: --template selects CP pin rows; without --cp it is unused" in result.stderr

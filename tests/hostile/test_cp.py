"""Hostile control planes (issue 7: items 9, 10, 11, 17).

One `HostileServer` on loopback is both the registry (it serves one OCI manifest for
any tag or digest of `team/app`) and the CP (its pin table is scripted per case). The
real CLI runs in a subprocess and every case goes through `assert_safe`: exit code,
one `error:` line on failures, no CP token, no runner-executable line, no control
character, no traceback or `internal error`.

- a row field of the wrong type is a malformed row: never coerced (`region: 7` is not
  "global"), never matched, a broken pin: exit 1 in verify and in pins;
- `NaN`, `Infinity`, `1e999` and integers beyond 64 bits are not JSON: exit 3, and
  `-o json` stays strict JSON;
- a CP token variable with a non-ASCII or control character is exit 2 naming the
  variable, never its value, and no request is sent;
- an over-cap pin table names the "CP pin table".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import CliResult, cli_env, run_cli
from tests.support.hostile import Answer, HostileServer, Request, assert_safe

CP_TOKEN = "cp-admin-token-4c1d9e77"
REPO = "team/app"
TEMPLATE = "app"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
            "size": 2,
        },
        "layers": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
PIN_CAP = 32 * 1024 * 1024


@dataclass
class World:
    """The scripted CP answer; the registry part never changes."""

    cp: Callable[[], Answer] = field(default=lambda: Answer(404))
    server: HostileServer | None = None

    @property
    def host(self) -> str:
        assert self.server is not None
        return self.server.host

    def rows(self, *rows: object) -> None:
        body = json.dumps({"pins": list(rows)}).encode()
        self.cp = lambda: Answer(200, [("Content-Type", "application/json")], body)

    def body(self, raw: bytes) -> None:
        self.cp = lambda: Answer(200, [("Content-Type", "application/json")], raw)

    def cp_requests(self) -> int:
        assert self.server is not None
        return self.server.count(lambda r: r.path.startswith("/cp/"))

    def handle(self, request: Request) -> Answer:
        if request.path.startswith("/cp/admin/runtime-image"):
            return self.cp()
        if request.path.startswith(f"/v2/{REPO}/manifests/"):
            headers = [("Content-Type", OCI_MANIFEST), ("Docker-Content-Digest", DIGEST)]
            return Answer(200, headers, MANIFEST)
        return Answer(404, [("Content-Type", "application/json")], b'{"errors": []}')


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    with HostileServer(w.handle) as server:
        w.server = server
        yield w


def good_row(host: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "template_name": TEMPLATE,
        "region": "global",
        "image_digest": DIGEST,
        "image_ref": f"{host}/{REPO}@{DIGEST}",
        "git_sha": "0123abc",
        "promoted_at": "2026-01-02T03:04:05Z",
        "promoted_by": "api-token-0a1b2c3d",
        "notes": "promoted by CI",
    }
    row.update(fields)
    return row


def strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {name} in output")

    return json.loads(text, parse_constant=refuse)


def verify(world: World, home: Path, *extra: str, token: str = CP_TOKEN) -> CliResult:
    args = [
        "verify",
        "--plain-http",
        "--timeout",
        "5",
        "--image",
        f"{world.host}/{REPO}:v1",
        "--cp",
        f"prod=http://{world.host}",
        "--template",
        TEMPLATE,
        *extra,
    ]
    return run_cli(args, cli_env(home, CP_ADMIN_API_TOKEN=token))


def pins(world: World, home: Path, *extra: str, token: str = CP_TOKEN) -> CliResult:
    args = [
        "pins",
        "--plain-http",
        "--timeout",
        "5",
        "--cp",
        f"prod=http://{world.host}",
        *extra,
    ]
    return run_cli(args, cli_env(home, CP_ADMIN_API_TOKEN=token))


def cp_source(result: CliResult) -> dict[str, Any]:
    doc = strict_json(result.stdout)
    found = [s for s in doc["sources"] if s["id"] == "cp:prod"]
    assert len(found) == 1, str(result)
    source: dict[str, Any] = found[0]
    return source


def test_a_well_formed_row_agrees(world: World, tmp_path: Path) -> None:
    """The baseline every malformed case differs from by one field."""
    world.rows(good_row(world.host))

    result = verify(world, tmp_path, "-o", "json")

    assert_safe(result, code=0, secrets=[CP_TOKEN])
    assert cp_source(result)["status"] == "ok"


# --- item 9: a field of the wrong type makes the row malformed ----------------------

MISSING = object()
WRONG_TYPES: list[tuple[str, object]] = [
    ("template_name", 7),
    ("template_name", None),
    ("template_name", MISSING),
    ("region", 7),
    ("region", None),
    ("region", False),
    ("region", ["global"]),
    ("region", ""),
    ("region", "glob\ud800al"),
    ("image_digest", 7),
    ("image_digest", None),
    ("image_ref", 7),
    ("image_ref", None),
    ("git_sha", 123456789),
    ("git_sha", True),
    ("promoted_at", 1767322045),
    ("promoted_by", 7),
    ("notes", 7),
    ("notes", ["a", "b"]),
    ("notes", "lone \udcff surrogate"),
]


def _with(host: str, key: str, value: object) -> dict[str, object]:
    row = good_row(host)
    if value is MISSING:
        del row[key]
    else:
        row[key] = value
    return row


def _case_id(key: str, value: object) -> str:
    shown = "missing" if value is MISSING else json.dumps(value).encode("ascii", "replace")
    return f"{key}={shown if isinstance(shown, str) else shown.decode()}"


@pytest.mark.parametrize(("key", "value"), WRONG_TYPES, ids=[_case_id(*c) for c in WRONG_TYPES])
def test_verify_a_row_with_a_wrong_type_is_a_broken_pin(
    world: World, tmp_path: Path, key: str, value: object
) -> None:
    world.rows(_with(world.host, key, value))

    result = verify(world, tmp_path, "-o", "json")

    assert_safe(result, code=1, secrets=[CP_TOKEN])
    source = cp_source(result)
    assert source["status"] == "mismatch", str(result)
    assert source["digest"] is None, str(result)  # never matched
    assert key in source["detail"], str(result)
    assert source.get("region") != "global" or key != "region", str(result)  # never coerced


PINS_CASES = [
    ("template_name", "a\ud800b"),
    ("region", 7),
    ("image_ref", None),
    ("notes", [1, 2]),
]


@pytest.mark.parametrize(("key", "value"), PINS_CASES, ids=[_case_id(*c) for c in PINS_CASES])
def test_pins_a_row_with_a_wrong_type_is_a_broken_pin(
    world: World, tmp_path: Path, key: str, value: object
) -> None:
    world.rows(_with(world.host, key, value))

    result = pins(world, tmp_path, "-o", "json")

    assert_safe(result, code=1, secrets=[CP_TOKEN])
    doc = strict_json(result.stdout)
    assert [p["status"] for p in doc["pins"]] == ["mismatch"], str(result)
    assert key in doc["pins"][0]["detail"], str(result)
    if key == "region":
        assert doc["pins"][0]["region"] != "global", str(result)


def test_a_malformed_row_fails_even_beside_a_good_one(world: World, tmp_path: Path) -> None:
    """The malformed row may be the one provisions read: fail closed."""
    world.rows(good_row(world.host), _with(world.host, "region", 7))

    result = verify(world, tmp_path, "-o", "json")

    assert_safe(result, code=1, secrets=[CP_TOKEN])
    assert "pin row 1" in cp_source(result)["detail"], str(result)


def test_a_malformed_row_of_another_template_is_not_ours(world: World, tmp_path: Path) -> None:
    world.rows(good_row(world.host), {**good_row(world.host), "template_name": "db", "region": 7})

    result = verify(world, tmp_path, "-o", "json")

    assert_safe(result, code=0, secrets=[CP_TOKEN])


def test_control_characters_in_cp_text_never_crash(world: World, tmp_path: Path) -> None:
    world.rows(good_row(world.host, notes="\x1b]0;pwned\x07\x1b[2J\x9b31m::stop-commands::x"))

    table = verify(world, tmp_path)
    as_json = verify(world, tmp_path, "-o", "json")

    assert_safe(table, code=0, secrets=[CP_TOKEN])
    assert_safe(as_json, code=0, secrets=[CP_TOKEN])
    assert cp_source(as_json)["notes"].startswith("\x1b]0;pwned")  # JSON keeps the value


# --- item 11: NaN, Infinity and huge numbers are not JSON ---------------------------

NON_STANDARD = [
    pytest.param(b"NaN", id="NaN"),
    pytest.param(b"Infinity", id="Infinity"),
    pytest.param(b"-Infinity", id="-Infinity"),
    pytest.param(b"1e999", id="1e999"),
    pytest.param(b"1" + b"0" * 400, id="400-digit-integer"),
]


def _row_with_number(host: str, number: bytes) -> bytes:
    row = json.dumps(good_row(host, notes="@@")).encode()
    return b'{"pins": [' + row.replace(b'"@@"', number) + b"]}"


@pytest.mark.parametrize("number", NON_STANDARD)
def test_verify_non_standard_numbers_are_malformed_input(
    world: World, tmp_path: Path, number: bytes
) -> None:
    world.body(_row_with_number(world.host, number))

    result = verify(world, tmp_path, "-o", "json")

    assert_safe(result, code=3, secrets=[CP_TOKEN], one_error_line=False)
    source = cp_source(result)  # stdout is strict JSON
    assert source["status"] == "error", str(result)
    assert "not JSON" in source["detail"], str(result)


@pytest.mark.parametrize("number", NON_STANDARD[:1])
def test_pins_non_standard_numbers_are_malformed_input(
    world: World, tmp_path: Path, number: bytes
) -> None:
    world.body(_row_with_number(world.host, number))

    result = pins(world, tmp_path, "-o", "json")

    assert_safe(result, code=3, secrets=[CP_TOKEN], one_error_line=False)
    strict_json(result.stdout)


# --- item 10: a CP token that cannot be one -----------------------------------------

BAD_TOKENS = [
    pytest.param("cp-token\u201d", "non-ASCII", id="smart-quote"),
    pytest.param("\u201ccp-token\u201d", "non-ASCII", id="smart-quotes-around"),
    pytest.param("cp-tok\x1ben", "control character", id="escape"),
    pytest.param("cp-tok\r\nX-Evil: 1", "whitespace", id="crlf-inside"),
    pytest.param("cp tok", "whitespace", id="space-inside"),
]


TOKEN_CASES = [
    *(pytest.param("verify", *p.values, id=f"verify-{p.id}") for p in BAD_TOKENS),
    pytest.param("pins", *BAD_TOKENS[0].values, id=f"pins-{BAD_TOKENS[0].id}"),
]


@pytest.mark.parametrize(("command", "token", "kind"), TOKEN_CASES)
def test_a_token_that_cannot_be_one_is_exit_2_naming_the_variable(
    world: World, tmp_path: Path, command: str, token: str, kind: str
) -> None:
    world.rows(good_row(world.host))

    run = verify if command == "verify" else pins
    result = run(world, tmp_path, token=token)

    visible = token.strip().replace("\u201c", "").replace("\u201d", "")
    assert_safe(result, code=2, secrets=[token, visible])
    first = result.stderr.splitlines()[0]
    assert "CP_ADMIN_API_TOKEN" in first, str(result)
    assert kind in first, str(result)
    assert world.cp_requests() == 0  # refused before any request


def test_a_non_utf8_token_is_exit_2(world: World, tmp_path: Path) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)."""
    import os
    import subprocess
    import sys

    world.rows(good_row(world.host))
    env = {k.encode(): v.encode("utf-8", "surrogateescape") for k, v in cli_env(tmp_path).items()}
    env[b"CP_ADMIN_API_TOKEN"] = b"cp-\xfftoken"
    args = [
        "verify",
        "--plain-http",
        "--image",
        f"{world.host}/{REPO}:v1",
        "--cp",
        f"prod=http://{world.host}",
        "--template",
        TEMPLATE,
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "truedigest", *args],
        env=env,  # bytes mappings are accepted on POSIX
        capture_output=True,
        timeout=60,
        check=False,
        cwd=os.getcwd(),
    )
    out, err = (b.decode("utf-8", "surrogateescape") for b in (proc.stdout, proc.stderr))
    result = CliResult(tuple(args), proc.returncode, out, err)
    assert_safe(result, code=2)
    assert b"cp-\xfftoken" not in proc.stdout + proc.stderr, str(result)
    assert "CP_ADMIN_API_TOKEN" in result.stderr.splitlines()[0], str(result)
    assert world.cp_requests() == 0


# --- item 17: an over-cap pin table names what was capped ---------------------------


def test_a_declared_over_cap_pin_table_names_the_cp_pin_table(world: World, tmp_path: Path) -> None:
    world.cp = lambda: Answer(
        200, [("Content-Type", "application/json")], b"{}", content_length=PIN_CAP + 1
    )

    result = verify(world, tmp_path, "-o", "json")

    assert_safe(result, code=3, secrets=[CP_TOKEN], one_error_line=False)
    detail = cp_source(result)["detail"]
    assert "CP pin table" in detail, str(result)
    assert "manifest" not in detail, str(result)


def test_a_streamed_over_cap_pin_table_names_the_cp_pin_table(world: World, tmp_path: Path) -> None:
    chunk = b" " * (1 << 20)

    def endless() -> Iterator[bytes]:
        yield b'{"pins": ['
        for _ in range(PIN_CAP // len(chunk) + 2):
            yield chunk

    world.cp = lambda: Answer(
        200, [("Content-Type", "application/json")], endless(), content_length=-1
    )

    result = verify(world, tmp_path, "-o", "json")

    assert_safe(result, code=3, secrets=[CP_TOKEN], one_error_line=False)
    assert "CP pin table" in cp_source(result)["detail"], str(result)

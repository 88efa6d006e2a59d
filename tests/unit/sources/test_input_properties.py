"""Property tests for every parser of outside input that truedigest owns here (issue 7).

CP pin tables and rows, strict JSON, CP tokens, build outputs (buildx metadata and bake
files, push logs, digest files, OCI layout index.json) and pin-file scanning: any input
ends in a value or a TruedigestError (or, for `jsonutil.loads`, a ValueError), nothing
else. Where the contract is sharper, the property says so: a row with a field of the
wrong type never yields an `ok` observation, strict JSON never yields NaN or Infinity.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from truedigest.base import jsonutil
from truedigest.cp.client import (
    ROW_FIELDS,
    CPTarget,
    PinTable,
    _rows_of,
    check_token,
    field_problem,
    row_problems,
    row_region,
)
from truedigest.errors import ControlPlaneError, CPTokenError, TruedigestError
from truedigest.model.observation import Observation, Status
from truedigest.oci.reference import parse_reference
from truedigest.sources import pinfile
from truedigest.sources.build import buildx_metadata, digest_file, oci_layout, push_log
from truedigest.sources.build.build_claim import BuildClaim
from truedigest.sources.cp_rows import observe_rows, pin_problems

IMAGE = parse_reference("registry.example.com/team/app:v1")
TARGET = CPTarget("prod", "https://cp.example.com")
DIGEST = "sha256:" + hashlib.sha256(b"m").hexdigest()
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text as JSON can carry it: any code point, lone surrogates included.
TEXT = st.text(st.characters(codec=None), max_size=20)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
FIELD_VALUES = st.one_of(
    JSON,
    st.sampled_from(["app", "global", DIGEST, f"registry.example.com/team/app@{DIGEST}"]),
)
ROWS = st.dictionaries(
    st.one_of(st.sampled_from(ROW_FIELDS), TEXT), FIELD_VALUES, max_size=len(ROW_FIELDS) + 2
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="truedigest-props-") as name:
        yield Path(name)


# --- strict JSON ----------------------------------------------------------------------


@PROPERTY
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64)))
@example(b"NaN")
@example(b"[1e999]")
@example(b'{"a": -Infinity}')
@example(b"1" * 30)
@example(b"[" * 5000)
def test_loads_is_a_value_or_a_value_error(data: bytes | str) -> None:
    try:
        value = jsonutil.loads(data)
    except ValueError:
        return
    jsonutil.dumps(value)  # strict output never fails on what strict input accepted


IN_RANGE_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(1 << 63), max_value=1 << 63),
        st.floats(allow_nan=False, allow_infinity=False),
        TEXT,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


@PROPERTY
@given(IN_RANGE_JSON)
def test_loads_round_trips_standard_json(value: Any) -> None:
    assert jsonutil.loads(jsonutil.dumps(value)) == value


@PROPERTY
@given(st.integers(min_value=0, max_value=1 << 200), st.booleans())
def test_loads_refuses_integers_beyond_64_bits(excess: int, negative: bool) -> None:
    value = (jsonutil.INT_LIMIT + excess) * (-1 if negative else 1)
    with pytest.raises(ValueError, match="integer"):
        jsonutil.loads(str(value))


def outcome(read: Any) -> tuple[Any, TruedigestError | None]:
    """(value, None) or (None, the TruedigestError): anything else propagates."""
    try:
        return read(), None
    except TruedigestError as exc:
        return None, exc


# --- CP pin tables, rows and tokens -----------------------------------------------------


@PROPERTY
@given(JSON)
def test_a_pin_table_body_is_rows_or_a_cp_error(data: Any) -> None:
    rows, error = outcome(lambda: _rows_of(data, "CP prod"))
    if error is not None:
        assert isinstance(error, ControlPlaneError)
        return
    assert all(isinstance(r, dict) for r in rows)


@PROPERTY
@given(st.lists(ROWS, max_size=4), st.sampled_from(["app", "db"]), st.sampled_from(["global"]))
def test_observe_rows_is_an_observation_and_malformed_never_passes(
    rows: list[dict[str, Any]], template: str, region: str
) -> None:
    table = PinTable(TARGET, tuple(rows))
    obs = observe_rows(table, template=template, region=region, image=IMAGE, git_sha="0123abc")
    assert isinstance(obs, Observation)
    assert isinstance(row_region(rows[0]) if rows else "global", str)
    mine = [r for r in rows if r.get("template_name") == template]
    if any(row_problems(r) for r in mine):
        assert obs.status is Status.MISMATCH
        assert obs.digest is None
    if obs.status is Status.OK:
        assert len(mine) == 1
        assert not row_problems(mine[0])


@PROPERTY
@given(ROWS)
def test_row_problems_name_every_wrongly_typed_field(row: dict[str, Any]) -> None:
    problems = row_problems(row)
    for key in ROW_FIELDS:
        problem = field_problem(row, key)
        if problem is not None:
            assert problem in problems
            assert key in problem
            assert "\n" not in problem
            problem.encode("utf-8")  # printable as is: no lone surrogate in a message
    if row_problems(row) and not any(
        field_problem(row, k) for k in ("template_name", "image_digest")
    ):
        assert pin_problems(row, _digest(), image=IMAGE, git_sha=None)


def _digest() -> Any:
    from truedigest.oci.digest import Digest

    return Digest.parse(DIGEST)


@PROPERTY
@given(st.text(st.characters(codec=None), max_size=40))
@example("cp-token\u201d")
@example("tok\x1ben")
@example("a b")
def test_a_token_is_a_secret_or_a_usage_error_naming_the_variable(value: str) -> None:
    target = CPTarget("prod", "https://cp.example.com", token_env="CP_TOKEN_VAR")
    secret, error = outcome(lambda: check_token(target, value))
    if error is not None:
        assert isinstance(error, CPTokenError)
        assert "CP_TOKEN_VAR" in error.message
        assert error.message.isascii()  # never a character of the value
        assert len(value.strip()) < 12 or value.strip() not in error.message
        return
    assert secret.reveal().isascii()
    assert secret.reveal().isprintable()


# --- build outputs ----------------------------------------------------------------------


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    return path


TEXT_FILES = st.one_of(st.binary(max_size=200), st.text(st.characters(codec=None), max_size=200))
LOG_LINES = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda tag, digest, size: f"{tag}: digest: {digest} size: {size}",
            st.sampled_from(["v1", "latest", "x" * 130, "\x1b[31mv1"]),
            st.sampled_from([DIGEST, DIGEST.upper(), "sha256:zz", "sha256:" + "a" * 63]),
            st.integers(min_value=0, max_value=10**30),
        ),
        st.builds(
            lambda ref: f"pushing manifest for {ref}@{DIGEST}",
            st.sampled_from(["registry.example.com/team/app:v1", "UPPER/x:y", "::", "a@b"]),
        ),
        st.just("The push refers to repository [registry.example.com/team/app]"),
    ),
    max_size=6,
).map("\n".join)


@PROPERTY
@given(st.one_of(JSON.map(json.dumps), TEXT_FILES), st.sampled_from([None, "app", "x"]))
def test_build_metadata_is_a_claim_or_an_error(
    scratch: Path, content: str | bytes, target: str | None
) -> None:
    path = _write(scratch / "metadata.json", content)
    _claim_or_error(lambda: buildx_metadata.from_metadata(path, image=IMAGE, target=target))


@PROPERTY
@given(
    st.dictionaries(
        st.sampled_from(["app", "db", "containerimage.digest", "buildx.build.ref"]),
        st.one_of(
            JSON,
            st.fixed_dictionaries(
                {"containerimage.digest": st.sampled_from([DIGEST, "sha256:x", 7])},
                optional={
                    "image.name": st.sampled_from(["registry.example.com/team/app:v1", "a,b", 3]),
                    "containerimage.descriptor": JSON,
                },
            ),
        ),
        max_size=3,
    )
)
def test_bake_metadata_is_a_claim_or_an_error(scratch: Path, doc: dict[str, Any]) -> None:
    path = _write(scratch / "bake.json", json.dumps(doc))
    _claim_or_error(lambda: buildx_metadata.from_metadata(path, image=IMAGE, target=None))


@PROPERTY
@given(st.one_of(LOG_LINES, TEXT_FILES))
def test_push_log_is_a_claim_or_an_error(scratch: Path, content: str | bytes) -> None:
    path = _write(scratch / "push.log", content)
    _claim_or_error(lambda: push_log.from_push_log(path, image=IMAGE))


@PROPERTY
@given(st.one_of(TEXT_FILES, st.sampled_from([DIGEST, f"{DIGEST}\n", f"\ufeff{DIGEST}"])))
def test_digest_file_is_a_claim_or_an_error(scratch: Path, content: str | bytes) -> None:
    path = _write(scratch / "digest", content)
    _claim_or_error(lambda: digest_file.from_digest_file(path))


MANIFEST_ENTRIES = st.fixed_dictionaries(
    {"digest": st.one_of(st.just(DIGEST), JSON)},
    optional={
        "mediaType": JSON,
        "size": JSON,
        "annotations": st.one_of(
            JSON,
            st.dictionaries(
                st.sampled_from(["org.opencontainers.image.ref.name", "io.containerd.image.name"]),
                st.one_of(st.sampled_from(["v1", "registry.example.com/team/app:v1", "::@"]), JSON),
            ),
        ),
    },
)


@PROPERTY
@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"manifests": st.one_of(st.lists(st.one_of(MANIFEST_ENTRIES, JSON), max_size=4), JSON)}
        ),
    ).map(json.dumps)
    | TEXT_FILES,
    st.one_of(st.just('{"imageLayoutVersion": "1.0.0"}'), JSON.map(json.dumps)),
)
def test_oci_layout_is_a_claim_or_an_error(scratch: Path, index: str | bytes, marker: str) -> None:
    root = scratch / "layout"
    root.mkdir(exist_ok=True)
    _write(root / "oci-layout", marker)
    _write(root / "index.json", index)
    _claim_or_error(lambda: oci_layout.from_oci_layout(root, image=IMAGE))


def _claim_or_error(read: Any) -> None:
    claim, error = outcome(read)
    if error is not None:
        assert "\n" not in error.message
        assert len(error.message) < 2000
        return
    assert isinstance(claim, BuildClaim)


# --- pin files --------------------------------------------------------------------------

PIN_TEXT = st.lists(
    st.one_of(
        st.text(st.characters(codec=None), max_size=30),
        st.sampled_from(
            [
                f"image: registry.example.com/team/app@{DIGEST}",
                f"image:registry.example.com/team/app:v1@{DIGEST}",
                "image: registry.example.com/team/app@sha256:ABC",
                f"{{{{ .Values.registry }}}}/app@{DIGEST}",
                f"docker://[::1]:5000/team/app@{DIGEST}",
                f"nginx@{DIGEST}",
                "x@sha512:" + "a" * 127,
            ]
        ),
    ),
    max_size=8,
).map("\n".join)


@PROPERTY
@given(PIN_TEXT)
def test_pin_text_scans_to_pins(text: str) -> None:
    pins = pinfile.scan_text(text, Path("values.yaml"))
    for pin in pins:
        assert pin.line >= 1
        assert str(pin.digest) in pin.reference


@PROPERTY
@given(st.one_of(PIN_TEXT, TEXT_FILES), st.booleans())
def test_pin_file_is_a_scan_or_an_error(
    scratch: Path, content: str | bytes, any_repo: bool
) -> None:
    path = _write(scratch / "values.yaml", content)
    scan, error = outcome(lambda: pinfile.scan_file(path, repo=None if any_repo else IMAGE))
    if error is not None:
        assert "--pin-file" in error.message
        return
    assert isinstance(scan, pinfile.PinScan)
    for broken in scan.malformed:
        assert len(broken.text) <= 240

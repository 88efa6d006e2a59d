"""Digest: parse, compute, print — valid and invalid inputs side by side."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.cli import cli_env, run_cli_many
from tests.support.hostile import Answer, HostileServer, Request
from truedigest.errors import ExitCode, InvalidDigestError, UsageError
from truedigest.oci.digest import ALGORITHMS, Digest, clip

HEX256 = hashlib.sha256(b"truedigest").hexdigest()
HEX384 = hashlib.sha384(b"truedigest").hexdigest()
HEX512 = hashlib.sha512(b"truedigest").hexdigest()


@pytest.mark.parametrize(
    ("text", "algorithm", "hexpart"),
    [
        (f"sha256:{HEX256}", "sha256", HEX256),
        (f"sha384:{HEX384}", "sha384", HEX384),
        (f"sha512:{HEX512}", "sha512", HEX512),
    ],
)
def test_parse_valid(text: str, algorithm: str, hexpart: str) -> None:
    digest = Digest.parse(text)
    assert (digest.algorithm, digest.hex) == (algorithm, hexpart)
    assert str(digest) == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="whitespace"),
        pytest.param(HEX256, id="no-algorithm"),
        pytest.param("sha256:", id="no-hex"),
        pytest.param("sha256", id="no-colon"),
        pytest.param(f"sha256:{HEX256[:-1]}", id="sha256-63"),
        pytest.param(f"sha256:{HEX256}0", id="sha256-65"),
        pytest.param(f"sha512:{HEX512[:-1]}", id="sha512-127"),
        pytest.param(f"sha512:{HEX512}0", id="sha512-129"),
        pytest.param(f"sha512:{HEX256}", id="sha512-with-sha256-length"),
        pytest.param(f"sha256:{HEX512}", id="sha256-with-sha512-length"),
        pytest.param(f"sha384:{HEX384[:-1]}", id="sha384-95"),
        pytest.param(f"sha384:{HEX256}", id="sha384-with-sha256-length"),
        pytest.param(f"sha384:{HEX384.upper()}", id="sha384-uppercase-hex"),
        pytest.param(f"sha256:{HEX256.upper()}", id="uppercase-hex"),
        pytest.param(f"SHA256:{HEX256}", id="uppercase-algorithm"),
        pytest.param(f"sha256:{'g' * 64}", id="non-hex"),
        pytest.param(f"md5:{hashlib.md5(b'x').hexdigest()}", id="unknown-md5"),  # noqa: S324
        pytest.param(f"sha1:{hashlib.sha1(b'x').hexdigest()}", id="unknown-sha1"),  # noqa: S324
        pytest.param(f"sha256+b64u:{HEX256}", id="unknown-composite"),
        pytest.param(f"sha256:{HEX256[:32]} {HEX256[32:]}", id="inner-space"),
        pytest.param(f"sha256::{HEX256}", id="double-colon"),
    ],
)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(InvalidDigestError) as info:
        Digest.parse(text)
    assert isinstance(info.value, UsageError)
    assert info.value.exit_code == ExitCode.USAGE
    assert int(info.value.exit_code) == 2
    assert info.value.instance_hint


def test_unknown_algorithm_is_named() -> None:
    with pytest.raises(InvalidDigestError, match="blake3"):
        Digest.parse(f"blake3:{HEX256}")


def test_algorithms_are_the_oci_registered_set() -> None:
    assert ALGORITHMS == ("sha256", "sha384", "sha512")


@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_of_bytes_matches_hashlib(algorithm: str) -> None:
    data = b'{"schemaVersion":2}'
    digest = Digest.of_bytes(data, algorithm)
    assert digest == Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
    assert digest.verify(data)
    assert not digest.verify(data + b" ")


def test_of_bytes_defaults_to_sha256() -> None:
    assert str(Digest.of_bytes(b"x")) == "sha256:" + hashlib.sha256(b"x").hexdigest()


def test_of_bytes_rejects_unknown_algorithm() -> None:
    with pytest.raises(InvalidDigestError):
        Digest.of_bytes(b"x", "md5")


def test_short_and_encoded_tag() -> None:
    digest = Digest.of_bytes(b"x")
    assert digest.short == "sha256:" + digest.hex[:12]
    assert digest.encoded_tag == "sha256-" + digest.hex


def test_clip_flattens_control_characters_and_caps_length() -> None:
    assert clip("a\tb\x1b[0m") == "a b [0m"
    assert clip("x" * 80) == "x" * 80
    assert clip("x" * 81) == "x" * 79 + "…"
    assert clip("x" * 10, 5) == "xxxx…"


def test_error_message_is_clipped_and_flat() -> None:
    with pytest.raises(InvalidDigestError) as info:
        Digest.parse("sha256:\x07" + "z" * 200)
    assert "'sha256: zzz" in info.value.message
    assert "…" in info.value.message


@given(st.text(max_size=200))
def test_parse_arbitrary_text_only_raises_invalid_digest(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except InvalidDigestError:
        return  # any other exception fails the test
    assert Digest.parse(str(digest)) == digest


@given(st.binary(max_size=64), st.sampled_from(["sha256", "sha384", "sha512"]))
def test_round_trip(data: bytes, algorithm: str) -> None:
    digest = Digest.of_bytes(data, algorithm)
    assert Digest.parse(str(digest)) == digest


# -- one reference, one answer: a registry that names its digests in sha384/sha512 ----

_MANIFEST = (
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json",'
    b'"digest":"sha256:' + hashlib.sha256(b"{}").hexdigest().encode() + b'","size":2},'
    b'"layers":[]}'
)


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_resolve_and_head_agree_when_the_header_is_not_sha256(
    algorithm: str, tmp_path: Path
) -> None:
    header = Digest.of_bytes(_MANIFEST, algorithm)

    def registry(request: Request) -> Answer:
        if not request.path.startswith("/v2/app/manifests/"):
            return Answer(404)
        return Answer(
            200,
            headers=[
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                ("Docker-Content-Digest", str(header)),
            ],
            body=_MANIFEST,
        )

    with HostileServer(registry) as server:
        env = cli_env(tmp_path)
        ref = f"{server.host}/app:v1"
        results = run_cli_many(
            [
                (["resolve", "--plain-http", ref], env),
                (["resolve", "--plain-http", "--head", ref], env),
                (["resolve", "--plain-http", f"{server.host}/app@{header}"], env),
            ]
        )
    for result in results:
        assert result.code == 0, str(result)
        assert result.stdout.strip() == str(header), str(result)

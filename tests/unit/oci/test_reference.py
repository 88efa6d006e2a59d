"""parse_reference: the distribution grammar with Docker's normalisation."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from truedigest.errors import ExitCode, InvalidReferenceError, UsageError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import DOCKER_HUB, ImageRef, parse_reference, parse_repository

DIGEST = Digest.of_bytes(b'{"schemaVersion":2}')
SHA512 = Digest.of_bytes(b'{"schemaVersion":2}', "sha512")
HUB = "registry-1.docker.io"
HEX64 = hashlib.sha256(b"an image id").hexdigest()


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        # Docker Hub normalisation
        ("ubuntu", HUB, "library/ubuntu", "latest", None),
        ("ubuntu:22.04", HUB, "library/ubuntu", "22.04", None),
        ("x/y", HUB, "x/y", "latest", None),
        ("docker.io/x/y", HUB, "x/y", "latest", None),
        ("docker.io/ubuntu", HUB, "library/ubuntu", "latest", None),
        ("index.docker.io/x/y:1", HUB, "x/y", "1", None),
        ("index.docker.io/ubuntu", HUB, "library/ubuntu", "latest", None),
        ("registry-1.docker.io/library/ubuntu", HUB, "library/ubuntu", "latest", None),
        # only docker.io and index.docker.io, as written, are Hub names (get library/);
        # any other spelling of a Hub host is a host like any other (the grammar's reading)
        ("registry-1.docker.io/foo", HUB, "foo", "latest", None),
        ("Docker.IO/x/y", "Docker.IO", "x/y", "latest", None),
        ("Docker.io/foo", "Docker.io", "foo", "latest", None),
        ("INDEX.DOCKER.IO/foo", "INDEX.DOCKER.IO", "foo", "latest", None),
        # 64 hex characters are a name once a domain or a tag says so
        (f"docker.io/{HEX64}", HUB, f"library/{HEX64}", "latest", None),
        (f"docker.io/library/{HEX64}", HUB, f"library/{HEX64}", "latest", None),
        (f"{HEX64}:v1", HUB, f"library/{HEX64}", "v1", None),
        (HEX64[:63], HUB, f"library/{HEX64[:63]}", "latest", None),
        # the 255-character limit counts the path only
        ("example.com/" + "a" * 255, "example.com", "a" * 255, "latest", None),
        ("a" * 247, HUB, "library/" + "a" * 247, "latest", None),
        ("a/b/c/d", HUB, "a/b/c/d", "latest", None),
        # host detection
        ("localhost/foo", "localhost", "foo", "latest", None),
        ("localhost:5000/foo", "localhost:5000", "foo", "latest", None),
        ("ghcr.io/org/app:v1", "ghcr.io", "org/app", "v1", None),
        ("reg.example:443/a/b", "reg.example:443", "a/b", "latest", None),
        ("myhost:5000/a", "myhost:5000", "a", "latest", None),
        ("Myhost/a", "Myhost", "a", "latest", None),
        ("127.0.0.1:5000/a", "127.0.0.1:5000", "a", "latest", None),
        ("[::1]:5000/foo:v2", "[::1]:5000", "foo", "v2", None),
        ("[::1]/foo", "[::1]", "foo", "latest", None),
        ("[fe80::1]:5000/foo", "[fe80::1]:5000", "foo", "latest", None),
        # not a host: no '.', ':' or uppercase, not localhost
        ("myhost/a", HUB, "myhost/a", "latest", None),
        ("localhost", HUB, "library/localhost", "latest", None),
        ("localhost:5000", HUB, "library/localhost", "5000", None),
        ("ghcr.io", HUB, "library/ghcr.io", "latest", None),
        # path component separators
        ("a_b", HUB, "library/a_b", "latest", None),
        ("a__b", HUB, "library/a__b", "latest", None),
        ("a-b", HUB, "library/a-b", "latest", None),
        ("a--b", HUB, "library/a--b", "latest", None),
        ("a.b", HUB, "library/a.b", "latest", None),
        ("0/1", HUB, "0/1", "latest", None),
        # tags
        ("ubuntu:_x", HUB, "library/ubuntu", "_x", None),
        ("ubuntu:V1.0-rc_1", HUB, "library/ubuntu", "V1.0-rc_1", None),
        ("ubuntu:" + "t" * 128, HUB, "library/ubuntu", "t" * 128, None),
        # digests: the digest wins for .reference, the tag is kept for display
        (f"ubuntu@{DIGEST}", HUB, "library/ubuntu", None, DIGEST),
        (f"ubuntu:22.04@{DIGEST}", HUB, "library/ubuntu", "22.04", DIGEST),
        (f"localhost:5000/a:t@{SHA512}", "localhost:5000", "a", "t", SHA512),
    ],
)
def test_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: Digest | None
) -> None:
    ref = parse_reference(text)
    assert ref == ImageRef(registry, repository, tag, digest)
    assert ref.reference == (str(digest) if digest is not None else tag)
    assert parse_reference(str(ref)) == ref


def test_docker_hub_fully_qualified_text() -> None:
    assert str(parse_reference("ubuntu")) == "registry-1.docker.io/library/ubuntu:latest"
    assert DOCKER_HUB == HUB


def test_tag_and_digest_display_and_reference() -> None:
    ref = parse_reference(f"ghcr.io/o/a:v1@{DIGEST}")
    assert ref.reference == str(DIGEST)
    assert str(ref) == f"ghcr.io/o/a:v1@{DIGEST}"
    assert ref.name == "ghcr.io/o/a"


def test_with_tag_and_with_digest() -> None:
    ref = parse_reference(f"ghcr.io/o/a:v1@{DIGEST}")
    assert ref.with_tag("v2") == ImageRef("ghcr.io", "o/a", "v2", None)
    other = Digest.of_bytes(b"other")
    assert ref.with_digest(other).reference == str(other)


def test_default_tag_none() -> None:
    ref = parse_reference("ghcr.io/o/a", default_tag=None)
    assert ref.tag is None
    assert ref.reference == "latest"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(" ", id="space"),
        pytest.param(" ubuntu", id="leading-space"),
        pytest.param("ubuntu ", id="trailing-space"),
        pytest.param("ubuntu\n", id="trailing-newline"),
        pytest.param("ubu ntu", id="inner-space"),
        pytest.param("ubuntu\n:latest", id="newline-before-tag"),
        pytest.param("foo\n/bar", id="newline-in-component"),
        pytest.param("localhost:5000\n/x", id="newline-after-host"),
        pytest.param(f"ubuntu:latest\n@{DIGEST}", id="newline-after-tag"),
        pytest.param(f"ubuntu@ {DIGEST}", id="space-before-digest"),
        pytest.param(f"ubuntu@\t{DIGEST}", id="tab-before-digest"),
        # uppercase in the repository
        pytest.param("Ubuntu", id="uppercase-single"),
        pytest.param("ghcr.io/Org/app", id="uppercase-path"),
        pytest.param("x/Y", id="uppercase-second-component"),
        # path components
        pytest.param("a..b", id="double-dot"),
        pytest.param("a___b", id="triple-underscore"),
        pytest.param("a._b", id="dot-underscore"),
        pytest.param("-a", id="leading-dash"),
        pytest.param("a-", id="trailing-dash"),
        pytest.param("a/", id="trailing-slash"),
        pytest.param("a//b", id="empty-component"),
        pytest.param("/a", id="leading-slash"),
        pytest.param("ghcr.io/", id="host-only"),
        # hosts and ports
        pytest.param("host:/a", id="empty-port"),
        pytest.param("host:abc/a", id="non-numeric-port"),
        pytest.param("my_host.com/a", id="underscore-in-host"),
        pytest.param("-host.com/a", id="host-leading-dash"),
        pytest.param("[::1/a", id="ipv6-unclosed"),
        pytest.param("::1/a", id="ipv6-unbracketed"),
        pytest.param("[2001:db8:3:4::192.0.2.33]:5000/debian", id="ipv6-ipv4-tail"),
        pytest.param("[fe80::1%eth0]:5000/a", id="ipv6-zone"),
        pytest.param("[fd00123123123]/a", id="ipv6-not-an-address"),
        pytest.param("[1:2:3:4:5:6:7:8:9]/a", id="ipv6-nine-groups"),
        pytest.param("host:65536/a", id="port-too-big"),
        pytest.param("host:0/a", id="port-zero"),
        pytest.param("host:000005000/a", id="port-too-many-digits"),
        # tags
        pytest.param("ubuntu:", id="empty-tag"),
        pytest.param("ubuntu:.x", id="tag-leading-dot"),
        pytest.param("ubuntu:-x", id="tag-leading-dash"),
        pytest.param("ubuntu:a+b", id="tag-plus"),
        pytest.param("ubuntu:" + "t" * 129, id="tag-129"),
        pytest.param("ubuntu:caf\u00e9", id="tag-non-ascii"),
        pytest.param(":latest", id="tag-only"),
        # digests
        pytest.param("ubuntu@", id="empty-digest"),
        pytest.param(f"@{DIGEST}", id="digest-only"),
        pytest.param(f"ubuntu@sha256:{DIGEST.hex[:-1]}", id="digest-short"),
        pytest.param(f"ubuntu@sha256:{DIGEST.hex.upper()}", id="digest-uppercase"),
        pytest.param(f"ubuntu@md5:{hashlib.md5(b'x').hexdigest()}", id="digest-md5"),  # noqa: S324
        pytest.param(f"ubuntu@{DIGEST}@{DIGEST}", id="two-digests"),
        pytest.param("ubuntu@latest", id="tag-after-at"),
        # too long
        pytest.param("a" * 256, id="name-too-long"),
        pytest.param("a" * 248, id="hub-path-too-long-with-library"),
        pytest.param("example.com/" + "a" * 256, id="path-256"),
        pytest.param(HEX64, id="image-id"),
        pytest.param("ghcr.io/" + "/".join(["abcdefghij"] * 24), id="path-too-long"),
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    exc = info.value
    assert isinstance(exc, UsageError)
    assert exc.exit_code == ExitCode.USAGE
    assert int(exc.exit_code) == 2
    assert exc.instance_hint


def test_long_names_are_capped() -> None:
    long_ok = "a" * 200
    assert parse_reference(long_ok).repository == f"library/{long_ok}"
    assert parse_reference(f"ghcr.io/o/{long_ok}").repository == f"o/{long_ok}"
    with pytest.raises(InvalidReferenceError, match=r"too long|longer"):
        parse_reference("a" * 300)


def test_error_message_quotes_the_input_clipped() -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference("Bad" * 100)
    assert "BadBad" in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("text", "ok"),
    [("ghcr.io/o/a", True), ("ubuntu", True), ("ubuntu:1", False), (f"ubuntu@{DIGEST}", False)],
)
def test_parse_repository(text: str, ok: bool) -> None:
    if ok:
        ref = parse_repository(text)
        assert ref.tag is None
        assert ref.digest is None
    else:
        with pytest.raises(InvalidReferenceError):
            parse_repository(text)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("ubuntu:22.04", f"docker.io/library/ubuntu@{DIGEST}", True),
        ("ghcr.io/o/a:1", "ghcr.io/o/a:2", True),
        ("ghcr.io/o/a", "ghcr.io/o/b", False),
        ("ghcr.io/o/a", "quay.io/o/a", False),
    ],
)
def test_same_repository_ignores_tag_and_digest(a: str, b: str, same: bool) -> None:
    left, right = parse_reference(a), parse_reference(b)
    assert left.same_repository(right) is same
    assert right.same_repository(left) is same


# -- properties -----------------------------------------------------------------

_REF_ALPHABET = "abz09._-/:@[]AZ \n" + "sha256" + DIGEST.hex[:8]
_component = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:[._]|__|-+)[a-z0-9]{1,6}){0,2}\Z")
_host = st.one_of(
    st.just("localhost"),
    st.from_regex(r"\A[a-z0-9]{1,8}\.[a-z]{2,4}\Z"),
    st.from_regex(r"\A[A-Z][a-z]{0,5}\Z"),
    st.just("[::1]"),
    st.just("docker.io"),
    st.just("index.docker.io"),
)
_port = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
_tag = st.one_of(
    st.just(""), st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z").map(":".__add__)
)
_digest = st.one_of(st.just(""), st.binary(max_size=8).map(lambda b: f"@{Digest.of_bytes(b)}"))


# without a host, a first component holding '.' would be read as one
_first_component = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:_|__|-+)[a-z0-9]{1,6}){0,2}\Z")


@st.composite
def _references(draw: st.DrawFn) -> str:
    host = draw(st.one_of(st.just(""), st.tuples(_host, _port).map("".join)))
    first = draw(_component if host else _first_component)
    path = "/".join([first, *draw(st.lists(_component, max_size=2))])
    prefix = f"{host}/" if host else ""
    return prefix + path + draw(_tag) + draw(_digest)


@given(st.one_of(st.text(max_size=80), st.text(alphabet=_REF_ALPHABET, max_size=60)))
@example("ubuntu\n:latest")
@example(f"ubuntu@ {DIGEST}")
def test_arbitrary_text_only_raises_invalid_reference(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReferenceError:
        return  # any other exception fails the test
    assert not any(ch.isspace() for ch in str(ref))
    assert parse_reference(str(ref)) == ref


@given(_references())
def test_generated_references_parse_and_round_trip(text: str) -> None:
    ref = parse_reference(text)
    again = parse_reference(str(ref))
    assert again == ref
    assert str(again) == str(ref)
    assert ref.repository == ref.repository.lower()
    if ref.digest is not None:
        assert ref.reference == str(ref.digest)

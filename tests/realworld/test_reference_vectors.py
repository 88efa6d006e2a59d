"""distribution/reference's own test vectors, run against truedigest's parser.

The data in `data/reference/*.json` is the vector tables of `reference_test.go`,
`normalize_test.go` and `regexp_test.go` (repository, path and commit in each file's
`provenance`). Every vector agrees with truedigest, or is in DEVIATIONS with its
reason, or belongs to a table in OUT_OF_SCOPE (a Go function truedigest has no
counterpart for). A deviation that starts to agree fails the test, so the list stays
exact.

How the Go functions map onto truedigest (the differences are deliberate):
- truedigest has one parser, `parse_reference`, which normalises like
  `ParseNormalizedNamed`: Docker Hub is `registry-1.docker.io` (the grammar writes
  `docker.io`) and a single-segment Hub name gets `library/`. Vectors of the
  un-normalised `Parse`/`WithName` and of the regexps, which split any first component
  off as a domain, are compared after the normalisation rule of normalize.go
  (`splitDockerDomain`): see `_expect_name`.
- `parse_repository` is truedigest's name-only parser (`WithName`, `ParseNamed`).
- `Digest.parse` reads bare digests; `is_valid_domain` is the domain syntax.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from truedigest.errors import InvalidDigestError, InvalidReferenceError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import (
    DOCKER_HUB,
    ImageRef,
    is_valid_domain,
    parse_reference,
    parse_repository,
)

DATA = Path(__file__).parent / "data" / "reference"
FILES = ("reference_test.json", "normalize_test.json", "regexp_test.json")
UPSTREAM = "https://github.com/distribution/reference"

_PORTS = (
    "truedigest refuses a port outside 1-65535; the grammar's regexp takes any digits "
    "(its own comment: 'it will fail on validation')"
)
_UNCHECKED_DIGEST = (
    "the Go test adds a 37-hex 'sha256' digest unchecked (WithTag/WithDigest take a "
    "digest.Digest as is); truedigest holds only digests of the algorithm's length"
)

# (table, the vector's text) -> why truedigest answers differently, on purpose
DEVIATIONS: dict[tuple[str, str], str] = {
    (
        "TestReferenceParse",
        "validname@sha512:" + "f" * 128,
    ): "the Go test binary does not register sha512 ('valid, but not registered by "
    "default'); sha256, sha384 and sha512 are the OCI registered algorithms and "
    "truedigest accepts all three",
    ("TestWithTag", "test.com:8000/foo:TAG5@sha256:1234567890098765432112345667890098765"): (
        _UNCHECKED_DIGEST
    ),
    ("TestWithDigest", "test.com/foo@sha256:1234567890098765432112345667890098765"): (
        _UNCHECKED_DIGEST
    ),
    ("TestWithDigest", "foo@sha256:1234567890098765432112345667890098765"): _UNCHECKED_DIGEST,
    ("TestWithDigest", "test.com:8000/foo@sha256:1234567890098765432112345667890098765"): (
        _UNCHECKED_DIGEST
    ),
    ("TestWithDigest", "test.com:8000/foo:latest@sha256:1234567890098765432112345667890098765"): (
        _UNCHECKED_DIGEST
    ),
    (
        "TestParseAnyReference",
        "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
    ): "truedigest has no ParseAnyReference: where a command takes a digest it reads one "
    "with Digest.parse; as an image reference the text is Docker Hub's library/sha256 "
    "with a tag, as ParseNormalizedNamed reads it",
    ("TestDomainRegexp", "192.168.1.1:75050"): _PORTS,
    ("TestDomainRegexp", "192.168.1.1:750050"): _PORTS,
    ("TestDomainRegexp", "[fd00:1:2::3]:75050"): _PORTS,
    ("TestDomainRegexp", "[fd00123123123]:75050"): _PORTS
    + "; and truedigest requires a bracketed literal to be an IPv6 address",
    ("TestDomainRegexp", "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050"): _PORTS,
    ("TestDomainRegexp", "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505"): _PORTS,
    ("TestFullNameRegexp", "a/" * 128 + "a"): "the regexp has no length limit; truedigest "
    "reads the first 'a' as a Docker Hub namespace (ParseNormalizedNamed), so the path is "
    "257 characters, over the grammar's 255 (un-normalised Parse splits 'a' off as a "
    "domain and accepts the 255-character rest)",
}

# tables whose Go function has no truedigest counterpart: what can be checked is
OUT_OF_SCOPE: dict[str, str] = {
    "TestMatch": "truedigest has no reference pattern matching (FamiliarMatch); only that "
    "each reference parses is checked",
}


@dataclass(frozen=True)
class Vector:
    file: str
    table: str
    index: int
    text: str  # the vector's input, the key of DEVIATIONS
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.table}[{self.index}]:{self.text[:48]}"


def _load(name: str) -> dict[str, Any]:
    doc = json.loads((DATA / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _text(table: str, row: dict[str, Any]) -> str:
    for key in ("input", "Reference", "reference", "combined"):
        if key in row:
            return str(row[key])
    return ""  # TestSerialization's "empty value"


def _vectors() -> Iterator[Vector]:
    for name in FILES:
        for table, spec in _load(name)["tables"].items():
            rows: list[dict[str, Any]] = []
            if table == "TestParseRepositoryInfo":  # one vector per spelling of the name
                rows = [
                    {**case, "input": case[key]}
                    for case in spec["vectors"]
                    for key in ("FamiliarName", "FullName", "AmbiguousName")
                    if case.get(key)
                ]
            elif "vectors" in spec:
                rows = spec["vectors"]
            else:  # lists of valid and invalid inputs
                rows = [{"input": t, "valid": True} for t in spec["valid"]]
                rows += [{"input": t, "valid": False} for t in spec["invalid"]]
            for index, row in enumerate(rows):
                yield Vector(name, table, index, _text(table, row), row)


VECTORS = list(_vectors())


# -- the grammar's forms of a truedigest reference ---------------------------------


def _hub(domain: str) -> str:
    return DOCKER_HUB if domain in ("docker.io", "index.docker.io") else domain


def _grammar_name(ref: ImageRef) -> str:
    """The grammar's canonical Name(): `docker.io` where truedigest has the Hub host."""
    domain = "docker.io" if ref.registry == DOCKER_HUB else ref.registry
    return f"{domain}/{ref.repository}"


def _grammar_string(ref: ImageRef) -> str:
    text = _grammar_name(ref)
    if ref.tag:
        text += f":{ref.tag}"
    if ref.digest is not None:
        text += f"@{ref.digest}"
    return text


def _familiar_name(ref: ImageRef) -> str:
    if ref.registry != DOCKER_HUB:
        return ref.name
    rest = ref.repository.removeprefix("library/")
    return rest if "/" not in rest else ref.repository


def _expect_name(ref: ImageRef, written: str) -> None:
    """`written` is a name as un-normalised Parse reads it (domain/path as written);
    normalize.go's rule says which first component is a domain, the rest is the Hub."""
    first, slash, rest = written.partition("/")
    if slash and (first in ("docker.io", "index.docker.io")):
        domain, path = DOCKER_HUB, rest
    elif slash and ("." in first or ":" in first or first == "localhost" or not first.islower()):
        domain, path = first, rest
    else:
        domain, path = DOCKER_HUB, written
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    assert (ref.registry, ref.repository) == (domain, path)


def _refused(parse: Callable[[], object], *, says: str | None = None) -> None:
    with pytest.raises((InvalidReferenceError, InvalidDigestError)) as info:
        parse()
    if says is not None:
        assert says in str(info.value)


def _tag_digest(ref: ImageRef, tag: str, digest: str) -> None:
    assert (ref.tag or "", str(ref.digest or "")) == (tag, digest)


def _round_trip(ref: ImageRef) -> None:
    assert parse_reference(str(ref), default_tag=None) == ref


# -- one check per table ------------------------------------------------------------


def check_reference_parse(v: dict[str, Any]) -> None:
    if v.get("err"):
        _refused(lambda: parse_reference(v["input"], default_tag=None))
        return
    ref = parse_reference(v["input"], default_tag=None)
    _expect_name(ref, v["repository"])
    if v.get("domain") and ref.registry != DOCKER_HUB:
        assert ref.registry == v["domain"]
    _tag_digest(ref, v.get("tag", ""), v.get("digest", ""))
    _round_trip(ref)


def check_with_name_failure(v: dict[str, Any]) -> None:
    _refused(lambda: parse_repository(v["input"]))


def check_domain_and_path(v: dict[str, Any]) -> None:
    ref = parse_repository(v["input"])
    _expect_name(ref, f"{v['domain']}/{v['path']}" if v.get("domain") else v["path"])


def check_serialization(v: dict[str, Any]) -> None:
    if v.get("err"):
        _refused(lambda: parse_reference(v.get("input", ""), default_tag=None))
        return
    ref = parse_reference(v["input"], default_tag=None)
    _expect_name(ref, v["name"])
    _tag_digest(ref, v.get("tag", ""), v.get("digest", ""))


def check_with_tag(v: dict[str, Any]) -> None:
    ref = parse_repository(v["name"])
    digest = Digest.parse(v["digest"]) if v.get("digest") else None
    tagged = ImageRef(ref.registry, ref.repository, v["tag"], digest)
    assert tagged == parse_reference(v["combined"])


def check_with_digest(v: dict[str, Any]) -> None:
    ref = parse_repository(v["name"])
    digested = ImageRef(
        ref.registry, ref.repository, v.get("tag") or None, Digest.parse(v["digest"])
    )
    assert digested == parse_reference(v["combined"])


def check_parse_named(v: dict[str, Any]) -> None:
    ref = parse_repository(v["input"])
    if v.get("err") == "ErrNameNotCanonical":  # valid, but not written in canonical form
        assert _grammar_name(ref) != v["input"]
        return
    assert not v.get("err")
    assert _grammar_name(ref) == v["input"]
    assert (ref.registry, ref.repository) == (_hub(v["domain"]), v["path"])


def check_valid_or_invalid(v: dict[str, Any]) -> None:
    if v["valid"]:
        _round_trip(parse_reference(v["input"], default_tag=None))
    else:
        _refused(lambda: parse_reference(v["input"]))


def check_repository_info(v: dict[str, Any]) -> None:
    ref = parse_repository(v["input"])
    assert (ref.registry, ref.repository) == (_hub(v["Domain"]), v["RemoteName"])
    assert _grammar_name(ref) == v["FullName"]
    assert _familiar_name(ref) == v["FamiliarName"]


def check_tag_and_digest(v: dict[str, Any]) -> None:
    ref = parse_reference(v["input"])
    assert ref.tag is not None
    assert ref.digest is not None
    assert _grammar_string(ref) == v["full"]
    assert _grammar_string(ref).removeprefix("docker.io/library/") == v["input"]


def check_invalid_components(v: dict[str, Any]) -> None:
    match v["kind"]:
        case "name":
            _refused(lambda: parse_reference(v["input"]))
        case (
            "tag"
        ):  # a tag from text is read by parsing (ImageRef.with_tag takes tags already read)
            _refused(lambda: parse_reference(f"busybox:{v['input']}"))
        case "digest":
            _refused(lambda: Digest.parse(v["input"]))
        case other:
            raise AssertionError(f"unknown kind {other!r}")


def check_parse_any(v: dict[str, Any]) -> None:
    if v.get("Expected"):  # a bare digest: no image name, and a digest where one is read
        _refused(lambda: parse_reference(v["Reference"]))
        assert str(Digest.parse(v["Expected"]["digestReference"])) == v["Equivalent"]
        return
    ref = parse_reference(v["Reference"], default_tag=None)
    assert _grammar_string(ref) == v["Equivalent"]


def check_split_hostname(v: dict[str, Any]) -> None:
    ref = parse_repository(v["input"])
    assert (ref.registry, ref.repository) == (_hub(v["domain"]), v["path"])


def check_match(v: dict[str, Any]) -> None:
    _round_trip(parse_reference(v["reference"], default_tag=None))


def check_docker_ref(v: dict[str, Any]) -> None:
    ref = parse_reference(v["input"])
    # the digest wins for what is fetched (truedigest keeps the tag for display only)
    fetched = f"@{ref.digest}" if ref.digest is not None else f":{ref.tag}"
    assert _grammar_name(ref) + fetched == v["expected"]


def check_domain_regexp(v: dict[str, Any]) -> None:
    assert is_valid_domain(v["input"]) is bool(v.get("match"))
    if v.get("match"):
        assert parse_repository(f"{v['input']}/x").name in (
            f"{v['input']}/x",
            f"{DOCKER_HUB}/{v['input']}/x",
        )


def check_name_regexp(v: dict[str, Any]) -> None:
    if not v.get("match"):
        _refused(lambda: parse_repository(v["input"]))
        return
    ref = parse_repository(v["input"])
    _expect_name(ref, v["input"])
    if v.get("subs") and ref.registry != DOCKER_HUB:
        assert [ref.registry, ref.repository] == v["subs"]


def check_reference_regexp(v: dict[str, Any]) -> None:
    if not v.get("match"):
        _refused(lambda: parse_reference(v["input"], default_tag=None))
        return
    ref = parse_reference(v["input"], default_tag=None)
    name, tag, digest = v["subs"]
    _expect_name(ref, name)
    _tag_digest(ref, tag, digest)


def check_identifier_regexp(v: dict[str, Any]) -> None:
    if v.get("match"):
        _refused(lambda: parse_reference(v["input"]), says="image ID")
        return
    try:
        parse_reference(v["input"])
    except InvalidReferenceError as exc:
        message = str(exc)
    else:
        message = ""
    assert "image ID" not in message


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "TestReferenceParse": check_reference_parse,
    "TestWithNameFailure": check_with_name_failure,
    "TestDomainAndPath": check_domain_and_path,
    "TestSerialization": check_serialization,
    "TestWithTag": check_with_tag,
    "TestWithDigest": check_with_digest,
    "TestParseNamed": check_parse_named,
    "TestValidateReferenceName": check_valid_or_invalid,
    "TestValidateRemoteName": check_valid_or_invalid,
    "TestParseRepositoryInfo": check_repository_info,
    "TestParseReferenceWithTagAndDigest": check_tag_and_digest,
    "TestInvalidReferenceComponents": check_invalid_components,
    "TestParseAnyReference": check_parse_any,
    "TestNormalizedSplitHostname": check_split_hostname,
    "TestMatch": check_match,
    "TestParseDockerRef": check_docker_ref,
    "TestDomainRegexp": check_domain_regexp,
    "TestFullNameRegexp": check_name_regexp,
    "TestReferenceRegexp": check_reference_regexp,
    "TestIdentifierRegexp": check_identifier_regexp,
}


def _agrees(vector: Vector) -> bool:
    try:
        CHECKS[vector.table](vector.data)
    except (AssertionError, InvalidReferenceError, InvalidDigestError, pytest.fail.Exception):
        return False
    return True


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_vector(vector: Vector) -> None:
    reason = DEVIATIONS.get((vector.table, vector.text))
    if reason is None:
        CHECKS[vector.table](vector.data)  # raises with the detail when it disagrees
    else:
        assert not _agrees(vector), f"{vector.id} now agrees: drop it from DEVIATIONS"


def test_every_table_has_a_check_and_every_deviation_a_vector() -> None:
    tables = {v.table for v in VECTORS}
    assert tables == set(CHECKS)
    assert set(OUT_OF_SCOPE) <= tables
    keys = {(v.table, v.text) for v in VECTORS}
    assert set(DEVIATIONS) <= keys, set(DEVIATIONS) - keys
    assert all(len(reason) > 40 for reason in [*DEVIATIONS.values(), *OUT_OF_SCOPE.values()])


@pytest.mark.parametrize("name", FILES)
def test_provenance(name: str) -> None:
    head = _load(name)["provenance"]
    assert head["repository"] == UPSTREAM
    assert head["path"] == name.replace(".json", ".go")
    assert len(head["commit"]) == 40
    assert all(c in "0123456789abcdef" for c in head["commit"])


def test_counts() -> None:
    """The counts the README quotes: every vector agrees, deviates on purpose, or is out
    of scope (and then agrees on what can be checked)."""
    deviating = [v for v in VECTORS if (v.table, v.text) in DEVIATIONS]
    out_of_scope = [v for v in VECTORS if v.table in OUT_OF_SCOPE]
    agreeing = [v for v in VECTORS if _agrees(v)]
    assert len(agreeing) + len(deviating) == len(VECTORS)
    assert not set(map(id, deviating)) & set(map(id, agreeing))
    assert all(_agrees(v) for v in out_of_scope)
    assert (len(VECTORS), len(agreeing), len(deviating), len(out_of_scope)) == COUNTS


# total vectors, agreeing (out-of-scope ones included), deviations, out of scope
COUNTS = (352, 338, 14, 10)

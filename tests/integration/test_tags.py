"""`truedigest tags` against real registries (DESIGN §2 tags, §3, §4 tags, §8).

A repository of 120 tags over 10 images (each image pushed once and tagged 12
times with the same bytes), an OCI index with attestation manifests, and tags the
registry lists but cannot serve (a tag link to a manifest it does not hold, and a
manifest blob altered on disk so its bytes no longer hash to its digest). Every
expected digest is sha256 of the bytes pushed.

Library calls measure requests and token fetches; the CLI contract (exit codes,
JSON on stdout, no progress bar or ANSI escapes in pipes) runs `python -m truedigest`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import secrets
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import (
    CLI_TIMEOUT,
    TRUEDIGEST,
    CliResult,
    cli_env,
    registry_credentials,
    run_cli_many,
)
from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_attestation,
    build_image,
    build_index,
    push_image,
    push_index,
    sha256_digest,
)
from tests.support.registry import RegistryServer, TokenServer
from truedigest.engine.tags_run import date_groups, scan_tags
from truedigest.errors import NotFoundError
from truedigest.oci.auth import CredentialStore
from truedigest.oci.reference import parse_repository
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions

PusherFor = Callable[[RegistryEndpoint], Pusher]

IMAGES = 10
TAGS_PER_IMAGE = 12
CREATED = "org.opencontainers.image.created"
TAGS_KEYS = {"schema", "repository", "groups", "errors"}


# --------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class ManyTags:
    """`repo` on `server`: IMAGES images, each under TAGS_PER_IMAGE tags."""

    server: RegistryServer
    repo: str
    images: tuple[Image, ...]
    tags_of: dict[str, list[str]]  # digest -> sorted tags

    @property
    def name(self) -> str:
        return f"{self.server.host}/{self.repo}"

    @property
    def all_tags(self) -> list[str]:
        return sorted(t for tags in self.tags_of.values() for t in tags)


def seed_many(server: RegistryServer, pusher: Pusher, prefix: str) -> ManyTags:
    repo = f"{prefix}/many-{secrets.token_hex(4)}"
    images: list[Image] = []
    tags_of: dict[str, list[str]] = {}
    for i in range(IMAGES):
        image = build_image(
            repo,
            salt=f"{repo}-{i}",
            annotations={CREATED: f"2024-03-{i + 1:02d}T10:00:00Z"},
        )
        push_image(pusher, repo, image)  # blobs, then the manifest by digest
        tags = [f"v{i}-{j:02d}" for j in range(TAGS_PER_IMAGE)]
        for tag in tags:  # the same bytes under every tag
            pusher.push_manifest(repo, tag, image.manifest, image.media_type)
        images.append(image)
        tags_of[sha256_digest(image.manifest)] = sorted(tags)
    return ManyTags(server, repo, tuple(images), tags_of)


@pytest.fixture(scope="module")
def many_plain(registry_plain: RegistryServer, pusher_for: PusherFor) -> ManyTags:
    return seed_many(registry_plain, pusher_for(registry_plain), "tags")


@pytest.fixture(scope="module")
def many_token(registry_token: RegistryServer, pusher_for: PusherFor) -> ManyTags:
    return seed_many(registry_token, pusher_for(registry_token), "tags")


def make_client(
    server: RegistryServer,
    home: Path,
    *,
    max_per_host: int = 8,
    transport: httpx.BaseTransport | None = None,
) -> RegistryClient:
    env = {"HOME": str(home), **registry_credentials(server)}
    options = ClientOptions(plain_http=server.scheme == "http", ca_file=server.ca_file)
    return RegistryClient(
        options,
        credentials=CredentialStore(env=env),
        max_per_host=max_per_host,
        transport=transport,
    )


# --------------------------------------------------------------------------- CLI helpers


def assert_plain(result: CliResult) -> None:
    """No ANSI escape and no progress bar in piped output."""
    assert "\x1b" not in result.stdout, str(result)
    assert "\x1b" not in result.stderr, str(result)
    assert "resolving tags" not in result.stderr, str(result)
    assert "Traceback" not in result.stderr, str(result)


def groups_of(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    return {g["digest"]: g["tags"] for g in doc["groups"]}


# =========================================================================== library


def test_groups_are_exact_and_cost_one_get_per_tag(many_plain: ManyTags, tmp_path: Path) -> None:
    repo = parse_repository(many_plain.name)
    with make_client(many_plain.server, tmp_path) as client:
        scan = scan_tags(client, repo)
        requests = client.requests_made
    assert scan.errors == ()
    assert scan.listed == IMAGES * TAGS_PER_IMAGE
    assert {str(g.digest): list(g.tags) for g in scan.groups} == many_plain.tags_of
    assert {g.media_type for g in scan.groups} == {OCI_MANIFEST}
    # Newest first (by the created annotation), and the newest group is image 9's.
    created = [g.created or "" for g in scan.groups]
    assert all(created)
    assert created == sorted(created, reverse=True)
    assert scan.newest is not None
    assert str(scan.newest.digest) == many_plain.images[-1].digest
    assert requests == 1 + IMAGES * TAGS_PER_IMAGE  # the listing, then one GET per tag


class PagingTransport(httpx.HTTPTransport):
    """Pages the real registry's tag list, `page` tags at a time, the way distribution
    3 and most hosted registries do (`?n=&last=`, `Link: <…>; rel="next"`).

    Distribution 2.8 (the Debian package) ignores `n` and answers with one page, so
    the paging happens here, over the list the real registry returned; every other
    request passes through untouched.
    """

    def __init__(self, page: int) -> None:
        super().__init__()
        self.page = page
        self.pages: list[str] = []  # the query of each tag-list request
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/tags/list"):
            return super().handle_request(request)
        params = request.url.params
        with self._lock:
            self.pages.append(str(params))
        upstream = super().handle_request(
            httpx.Request("GET", request.url.copy_with(query=None), headers=request.headers)
        )
        upstream.read()
        if upstream.status_code != 200:
            return upstream
        doc = json.loads(upstream.content)
        tags = sorted(doc["tags"])
        last = params.get("last")
        if last is not None:
            tags = [t for t in tags if t > last]
        n = int(params.get("n", self.page))
        page, rest = tags[:n], tags[n:]
        headers = {"content-type": "application/json"}
        if rest:
            headers["link"] = f'<{request.url.path}?last={page[-1]}&n={n}>; rel="next"'
        body = json.dumps({"name": doc["name"], "tags": page}).encode()
        return httpx.Response(200, headers=headers, content=body, request=request)


def test_pagination_follows_link_headers_from_the_real_registry(
    many_plain: ManyTags, tmp_path: Path
) -> None:
    paging = PagingTransport(page=25)
    repo = parse_repository(many_plain.name)
    with make_client(many_plain.server, tmp_path, transport=paging) as client:
        scan = scan_tags(client, repo)
    assert len(paging.pages) == 5, paging.pages  # 120 tags, 25 a page
    assert paging.pages[0] == ""  # the client asks for the first page plainly
    assert paging.pages[1].startswith("last=")
    assert paging.pages[1].endswith("&n=25")
    assert scan.listed == 120
    assert {str(g.digest): list(g.tags) for g in scan.groups} == many_plain.tags_of


def test_token_registry_fetches_exactly_one_token(
    many_token: ManyTags, token_server: TokenServer, tmp_path: Path
) -> None:
    repo = parse_repository(many_token.name)
    with make_client(many_token.server, tmp_path) as client:
        token_server.reset()
        scan = scan_tags(client, repo, concurrency=8)
        by_host = dict(client.transport.stats.by_host)
    assert scan.errors == ()
    assert {str(g.digest): list(g.tags) for g in scan.groups} == many_token.tags_of
    assert token_server.token_requests == 1, token_server.requests
    # 401, then the listing again with the token, then one GET per tag: no other request.
    registry_requests = sum(n for host, n in by_host.items() if str(token_server.port) not in host)
    assert registry_requests == 2 + IMAGES * TAGS_PER_IMAGE, by_host


def test_absent_repository_is_not_found(registry_plain: RegistryServer, tmp_path: Path) -> None:
    repo = parse_repository(f"{registry_plain.host}/tags/never-pushed-{secrets.token_hex(3)}")
    with make_client(registry_plain, tmp_path) as client, pytest.raises(NotFoundError):
        scan_tags(client, repo)


# =========================================================================== CLI


@dataclass(frozen=True)
class Mixed:
    """A repository with an index (attestations included), a plain manifest, and
    two tags the registry lists but cannot serve."""

    server: RegistryServer
    repo: str
    index: Index
    single: Image
    dangling_tag: str
    corrupt_tag: str

    @property
    def name(self) -> str:
        return f"{self.server.host}/{self.repo}"


def _repo_dir(server: RegistryServer, repo: str) -> Path:
    return server.data_dir / "docker" / "registry" / "v2" / "repositories" / repo


def _blob_data(server: RegistryServer, digest: str) -> Path:
    hex_ = digest.removeprefix("sha256:")
    return server.data_dir / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_[:2] / hex_


@pytest.fixture(scope="module")
def mixed(registry_plain: RegistryServer, pusher_for: PusherFor) -> Mixed:
    pusher = pusher_for(registry_plain)
    repo = f"tags/mixed-{secrets.token_hex(4)}"
    amd64 = build_image(repo, arch="amd64", salt=f"{repo}-amd64")
    arm64 = build_image(repo, arch="arm64", variant="v8", salt=f"{repo}-arm64")
    index = build_index(
        [amd64, arm64],
        [build_attestation(amd64, repo_hint=repo), build_attestation(arm64, repo_hint=repo)],
    )
    push_index(pusher, repo, index, tag="multi")
    pusher.push_manifest(repo, "multi-1.0", index.body, index.media_type)
    single = build_image(repo, salt=f"{repo}-single")
    push_image(pusher, repo, single, "single")
    # A tag whose link names a manifest the repository does not hold: listed, not served.
    dangling = "dangling"
    link = _repo_dir(registry_plain, repo) / "_manifests" / "tags" / dangling / "current" / "link"
    link.parent.mkdir(parents=True)
    link.write_text(sha256_digest(f"{repo} never pushed".encode()))
    # A tag whose manifest bytes were altered at rest: served, but no longer its digest.
    corrupt = build_image(repo, salt=f"{repo}-corrupt")
    push_image(pusher, repo, corrupt, "corrupt")
    data = _blob_data(registry_plain, corrupt.digest) / "data"
    data.write_bytes(corrupt.manifest + b"\n")
    return Mixed(registry_plain, repo, index, single, dangling, "corrupt")


def test_cli_json_groups_index_and_lists_errors(mixed: Mixed, tmp_path: Path) -> None:
    env = cli_env(tmp_path, NO_COLOR=None)
    base = ["tags", "--plain-http", mixed.name]
    full, matched, text = run_cli_many(
        [
            ([*base, "-o", "json"], env),
            ([*base, "-o", "json", "--match", "multi*"], env),
            (base, env),
        ]
    )
    for result in (full, matched, text):
        assert_plain(result)

    # Errors are listed and exit 3, but the groups are still printed.
    assert full.code == 3, str(full)
    doc = full.json()
    assert set(doc) >= TAGS_KEYS, str(full)
    assert doc["schema"] == "truedigest.tags/v1"
    assert doc["repository"] == mixed.name
    assert groups_of(doc) == {
        mixed.index.digest: ["multi", "multi-1.0"],
        mixed.single.digest: ["single"],
    }
    media = {g["digest"]: g["media_type"] for g in doc["groups"]}
    assert media == {mixed.index.digest: OCI_INDEX, mixed.single.digest: OCI_MANIFEST}
    # The attestation and platform children are not tags: no group of their own.
    children = {m.digest for m in mixed.index.manifests}
    assert children.isdisjoint(groups_of(doc))
    errors = {e["tag"]: e["error"] for e in doc["errors"]}
    assert set(errors) == {mixed.dangling_tag, mixed.corrupt_tag}, str(full)
    assert "not found" in errors[mixed.dangling_tag]
    assert "hashes to" in errors[mixed.corrupt_tag]

    # --match narrows before anything is resolved: no errors from the broken tags.
    assert matched.code == 0, str(matched)
    assert groups_of(matched.json()) == {mixed.index.digest: ["multi", "multi-1.0"]}
    assert matched.json()["errors"] == []

    # Piped text: one tab-separated line per digest, then one per failed tag, on stdout.
    assert text.code == 3, str(text)
    lines = [line.split("\t") for line in text.stdout.splitlines()]
    groups = {f[1]: f for f in lines if f[0] == "group"}
    assert set(groups) == {mixed.index.digest, mixed.single.digest}, text.stdout
    # every image's config says 2024-01-02T03:04:05Z: two newest, moved last unknown
    assert groups[mixed.index.digest] == [
        "group",
        mixed.index.digest,
        OCI_INDEX,
        "2024-01-02T03:04:05Z",
        "config",
        "-",
        "multi,multi-1.0",
    ]
    failed = [f for f in lines if f[0] == "error"]
    assert sorted(f[1] for f in failed) == [mixed.corrupt_tag, mixed.dangling_tag]
    assert all(len(f) == 3 for f in failed)
    assert "could not be resolved" in text.stderr
    assert "moved last: unknown (2 images share the newest creation time" in text.stderr


def test_cli_many_tags_json_and_absent_repo(
    many_plain: ManyTags, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, NO_COLOR=None)
    absent = f"{registry_plain.host}/tags/absent-{secrets.token_hex(3)}"
    full, narrowed, missing, bad = run_cli_many(
        [
            (["tags", "--plain-http", "-o", "json", many_plain.name], env),
            (["tags", "--plain-http", "-o", "json", "--match", "v3-0*", many_plain.name], env),
            (["tags", "--plain-http", absent], env),
            (["tags", "--plain-http", f"{many_plain.name}:v1-00"], env),
        ]
    )
    for result in (full, narrowed, missing, bad):
        assert_plain(result)
    assert full.code == 0, str(full)
    assert groups_of(full.json()) == many_plain.tags_of
    assert full.json()["errors"] == []
    assert narrowed.code == 0, str(narrowed)
    v3 = many_plain.images[3].digest
    assert groups_of(narrowed.json()) == {v3: [f"v3-{j:02d}" for j in range(10)]}
    assert missing.code == 10, str(missing)
    assert missing.stdout == ""
    assert missing.stderr.startswith("error: "), str(missing)
    assert bad.code == 2, str(bad)  # a tag where a repository is expected: usage


@pytest.fixture
def pty_stderr() -> Iterator[tuple[int, int]]:
    primary, secondary = pty.openpty()
    yield primary, secondary
    for fd in (primary, secondary):
        with contextlib.suppress(OSError):
            os.close(fd)


def _run_with_tty_stderr(
    args: Sequence[str], env: Mapping[str, str], fds: tuple[int, int]
) -> tuple[int, str, str]:
    primary, secondary = fds
    proc = subprocess.Popen(
        [*TRUEDIGEST, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "100"},
    )
    os.close(secondary)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    out, _ = proc.communicate(timeout=CLI_TIMEOUT)
    return proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_on_a_terminal_and_never_with_json(
    many_plain: ManyTags, tmp_path: Path, pty_stderr: tuple[int, int]
) -> None:
    env = cli_env(tmp_path, NO_COLOR=None)
    code, out, err = _run_with_tty_stderr(
        ["tags", "--plain-http", many_plain.name], env, pty_stderr
    )
    assert code == 0, err
    assert "resolving tags" in err  # the bar, on the terminal
    assert "\x1b" not in out  # stdout is a pipe: plain text
    assert len(out.splitlines()) == IMAGES


def test_no_progress_bar_with_json_even_on_a_terminal(
    many_plain: ManyTags, tmp_path: Path, pty_stderr: tuple[int, int]
) -> None:
    env = cli_env(tmp_path, NO_COLOR=None)
    code, out, err = _run_with_tty_stderr(
        ["tags", "--plain-http", "-o", "json", many_plain.name], env, pty_stderr
    )
    assert code == 0, err
    assert "resolving tags" not in err
    assert groups_of(json.loads(out)) == many_plain.tags_of


# =========================================================================== moved last


@dataclass(frozen=True)
class Dated:
    """`old` (an image annotated 2024-01-01), `new`/`latest` (an index with no created
    annotation whose platform configs say 2024-06-01) and, in a second repository,
    `old` beside `repro` (a config created 1970-01-01, as reproducible builds write)."""

    server: RegistryServer
    repo: str
    old: Image
    index: Index
    repro_repo: str


@pytest.fixture(scope="module")
def dated(registry_plain: RegistryServer, pusher_for: PusherFor) -> Dated:
    pusher = pusher_for(registry_plain)
    repo = f"tags/dated-{secrets.token_hex(4)}"
    old = build_image(repo, salt=f"{repo}-old", annotations={CREATED: "2024-01-01T00:00:00Z"})
    amd64 = build_image(repo, salt=f"{repo}-new", created="2024-06-01T00:00:00Z")
    arm64 = build_image(
        repo, arch="arm64", variant="v8", salt=f"{repo}-new", created="2024-06-01T00:00:00Z"
    )
    index = build_index([amd64, arm64], [build_attestation(amd64, repo_hint=repo)])
    push_image(pusher, repo, old, "old")
    push_index(pusher, repo, index, tag="new")
    pusher.push_manifest(repo, "latest", index.body, index.media_type)
    repro_repo = f"{repo}-repro"
    repro = build_image(repro_repo, salt=f"{repo}-repro", created="1970-01-01T00:00:00Z")
    push_image(pusher, repro_repo, old, "old")
    push_image(pusher, repro_repo, repro, "repro")
    return Dated(registry_plain, repo, old, index, repro_repo)


def test_moved_last_reads_the_configs_of_an_index_without_annotation(
    dated: Dated, tmp_path: Path
) -> None:
    """The bug: the newest image is an index with no created annotation, and the older
    annotated image was named. Now its platform configs date it, at 2 GETs a platform."""
    repo = parse_repository(f"{dated.server.host}/{dated.repo}")
    with make_client(dated.server, tmp_path) as client:
        scan = scan_tags(client, repo)
        before = client.requests_made
        scan = date_groups(client, repo, scan)
        cost = client.requests_made - before

    platforms = len(dated.index.images)
    assert cost == scan.created_requests == 2 * platforms  # each manifest, then its config
    assert scan.newest is not None
    assert str(scan.newest.digest) == dated.index.digest
    assert (scan.newest.tags, scan.newest.created) == (("latest", "new"), "2024-06-01T00:00:00Z")
    assert scan.newest.created_from == "config"
    assert [str(g.digest) for g in scan.groups] == [dated.index.digest, dated.old.digest]


def test_moved_last_is_unknown_rather_than_a_guess(dated: Dated, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    base = ["tags", "--plain-http"]
    newest, unknown = run_cli_many(
        [
            ([*base, f"{dated.server.host}/{dated.repo}", "-o", "json"], env),
            ([*base, f"{dated.server.host}/{dated.repro_repo}"], env),
        ]
    )
    doc = newest.json()
    assert newest.code == 0, str(newest)
    assert doc["moved_last"] == {
        "digest": dated.index.digest,
        "tags": ["latest", "new"],
        "created": "2024-06-01T00:00:00Z",
        "created_from": "config",
    }
    assert (doc["moved_last_unknown"], doc["created_requests"]) == (None, 4)

    assert unknown.code == 0, str(unknown)
    summary = unknown.stderr.strip()
    assert summary.endswith(
        "moved last: unknown (1 of 2 images carry no creation time (no created annotation, "
        "no config created))"
    ), summary
    assert "moved-last" not in unknown.stdout


def test_dating_stops_at_its_request_budget(dated: Dated, tmp_path: Path) -> None:
    repo = parse_repository(f"{dated.server.host}/{dated.repo}")
    with make_client(dated.server, tmp_path) as client:
        scan = scan_tags(client, repo)
        before = client.requests_made
        scan = date_groups(client, repo, scan, budget=3)  # the index needs 4
        cost = client.requests_made - before

    assert cost == 0
    assert scan.newest is None
    assert scan.moved_last_unknown is not None
    assert "would take 4 requests (more than 3)" in scan.moved_last_unknown

"""Requests in flight per registry (issue 14 item 2), counted on the server side.

A scripted registry on loopback serves N tags of distinct images and gauges how
many manifest requests it is answering at once. It holds each one until a wave of
`hold` is in (or every request it expects has arrived), so a client that allows
more than it should is caught with more than `hold` in at once, and one that
allows fewer never fills a wave. Nothing is timed: requests are counted.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli
from tests.support.hostile import Answer, HostileServer, Request
from tests.support.images import OCI_MANIFEST, Image, build_image

REPO = "pace/app"
SAFETY = 10.0
"""Seconds a held request waits at most for its wave: only a broken client that sends
fewer than expected ever waits this long (the test then fails on its counts)."""


@dataclass
class Gauge:
    """A registry of `len(images)` tags (t000, t001 …), one image each."""

    images: list[Image]
    hold: int = 1
    active: int = 0
    peak: int = 0
    arrived: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)

    def reset(self, hold: int) -> None:
        with self.cond:
            self.hold, self.active, self.peak, self.arrived = hold, 0, 0, 0

    @property
    def tags(self) -> list[str]:
        return [f"t{i:03d}" for i in range(len(self.images))]

    def __call__(self, req: Request) -> Answer:
        path = urllib.parse.urlsplit(req.path).path
        if path == f"/v2/{REPO}/tags/list":
            body = json.dumps({"name": REPO, "tags": self.tags}).encode()
            return Answer(200, [("Content-Type", "application/json")], body)
        prefix = f"/v2/{REPO}/manifests/"
        if path.startswith(prefix):
            reference = path.removeprefix(prefix)
            image = self._image(reference)
            if image is not None:
                self._gauge(held=not reference.startswith("sha256:"))
                return Answer(200, [("Content-Type", OCI_MANIFEST)], image.manifest)
        return Answer(404, [("Content-Type", "application/json")], b'{"errors":[]}')

    def _image(self, reference: str) -> Image | None:
        if reference.startswith("t") and reference[1:].isdigit():
            index = int(reference[1:])
            return self.images[index] if index < len(self.images) else None
        return next((i for i in self.images if i.digest == reference), None)

    def _gauge(self, *, held: bool) -> None:
        """Count this request in flight; a tag's GET waits for its wave."""
        with self.cond:
            self.active += 1
            self.peak = max(self.peak, self.active)
            if held:
                self.arrived += 1
                self.cond.notify_all()
                self.cond.wait_for(
                    lambda: self.active >= self.hold or self.arrived >= len(self.images),
                    timeout=SAFETY,
                )
            self.active -= 1


N = 48
GAUGE = Gauge([build_image(REPO, salt=f"pace-{i}") for i in range(N)])


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer(GAUGE) as s:
        yield s


def run(server: HostileServer, tmp_path: Path, *args: str) -> CliResult:
    return run_cli([*args, "--plain-http", "--timeout", "30", "-o", "json"], cli_env(tmp_path))


def manifest_gets(server: HostileServer) -> int:
    return server.count(lambda r: "/manifests/" in r.path)


def test_tags_concurrency_3_never_has_more_than_3_in_flight(
    server: HostileServer, tmp_path: Path
) -> None:
    GAUGE.reset(hold=3)
    result = run(server, tmp_path, "tags", f"{server.host}/{REPO}", "--concurrency", "3")
    assert result.code == 0, str(result)
    doc = json.loads(result.stdout)
    assert sorted(t for g in doc["groups"] for t in g["tags"]) == GAUGE.tags
    assert GAUGE.peak == 3  # waves of 3 filled, and never a 4th
    assert server.count() == 1 + N  # the listing, one GET per tag: unchanged


def test_whatis_concurrency_3_never_has_more_than_3_in_flight(
    server: HostileServer, tmp_path: Path
) -> None:
    GAUGE.reset(hold=3)
    wanted = GAUGE.images[7]
    result = run(
        server,
        tmp_path,
        "whatis",
        wanted.digest,
        "--repo",
        f"{server.host}/{REPO}",
        "--concurrency",
        "3",
    )
    assert result.code == 0, str(result)
    doc = json.loads(result.stdout)
    assert (doc["kind"], doc["tags"]) == ("manifest", ["t007"])
    assert GAUGE.peak <= 3
    assert GAUGE.peak == 3 or manifest_gets(server) < 3


def test_pins_concurrency_2_bounds_the_registry_requests(
    server: HostileServer, tmp_path: Path
) -> None:
    GAUGE.reset(hold=1)
    pin_file = tmp_path / "values.yaml"
    pin_file.write_text(
        "".join(f"image: {server.host}/{REPO}@{i.digest}\n" for i in GAUGE.images[:12])
    )
    result = run(
        server, tmp_path, "pins", "--pin-file", str(pin_file), "--track", "t000",
        "--concurrency", "2",
    )  # fmt: skip
    assert result.code in (0, 1), str(result)  # the audit ran (pins need no CP here)
    assert GAUGE.peak <= 2
    assert manifest_gets(server) >= 12


def test_by_default_many_more_than_the_old_8_are_in_flight_and_counts_hold(
    server: HostileServer, tmp_path: Path
) -> None:
    GAUGE.reset(hold=16)  # a client that allows only 8 never fills a wave
    result = run(server, tmp_path, "tags", f"{server.host}/{REPO}")
    assert result.code == 0, str(result)
    assert GAUGE.peak >= 16
    assert GAUGE.peak <= 64  # the documented cap
    assert server.count() == 1 + N


def test_concurrency_out_of_range_is_a_usage_error(server: HostileServer, tmp_path: Path) -> None:
    for value in ("0", "65"):
        result = run(server, tmp_path, "tags", f"{server.host}/{REPO}", "--concurrency", value)
        assert result.code == 2, str(result)
    assert server.count() == 0

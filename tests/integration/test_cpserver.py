"""The CP test server itself: auth, every response shape, recording, process mode."""

from __future__ import annotations

import hashlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.cpserver import DEFAULT_PATH, CPServer, PinRow, make_pin, write_pins_file

pytestmark = pytest.mark.integration

TOKEN = "cp-test-token-5f2a"
REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST_A = "sha256:" + hashlib.sha256(b"a").hexdigest()
DIGEST_B = "sha256:" + hashlib.sha256(b"b").hexdigest()
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def cp() -> Iterator[CPServer]:
    with CPServer.start(token=TOKEN, pins=[PinRow("api", DIGEST_A)]) as server:
        yield server


def get(
    cp: CPServer, *, headers: dict[str, str] | None = None, timeout: float = 2.0
) -> httpx.Response:
    return httpx.get(
        cp.url + DEFAULT_PATH, headers=AUTH if headers is None else headers, timeout=timeout
    )


def test_auth_missing_wrong_and_right(cp: CPServer) -> None:
    missing = get(cp, headers={})
    wrong = get(cp, headers={"Authorization": "Bearer nope"})
    not_bearer = get(cp, headers={"Authorization": TOKEN})
    right = get(cp)

    assert (missing.status_code, missing.json()) == (401, {"error": "unauthorized"})
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert (wrong.status_code, wrong.json()) == (403, {"error": "forbidden"})
    assert not_bearer.status_code == 403
    assert right.status_code == 200
    assert right.json() == {
        "pins": [{"template_name": "api", "image_digest": DIGEST_A, "region": "global"}]
    }


def test_other_paths_and_methods(cp: CPServer) -> None:
    assert httpx.get(cp.url + "/cp/admin/other", headers=AUTH).status_code == 404
    post = httpx.post(cp.url + DEFAULT_PATH, headers=AUTH, json={"x": 1})
    assert (post.status_code, post.headers["allow"]) == (405, "GET")
    assert get(cp).status_code == 200


@pytest.mark.parametrize(
    ("shape", "key"), [("ok", "pins"), ("data", "data"), ("items", "items"), ("bare-list", None)]
)
def test_row_wrapping_shapes(cp: CPServer, shape: str, key: str | None) -> None:
    cp.set_shape(shape)
    resp = get(cp)
    rows = resp.json() if key is None else resp.json()[key]
    assert resp.status_code == 200
    assert rows == [PinRow("api", DIGEST_A).to_json()]


@pytest.mark.parametrize(
    ("shape", "status", "content_type", "body"),
    [
        ("empty-200", 200, "application/json", b""),
        ("not-json", 200, "text/html; charset=utf-8", b"<html>oops</html>"),
        ("pins-not-list", 200, "application/json", b'{"pins": {"a": 1}}'),
        ("401", 401, "application/json", b'{"error": "unauthorized"}'),
        ("403", 403, "application/json", b'{"error": "forbidden"}'),
    ],
)
def test_failure_shapes(
    cp: CPServer, shape: str, status: int, content_type: str, body: bytes
) -> None:
    cp.set_shape(shape)
    resp = get(cp)
    assert (resp.status_code, resp.headers["content-type"], resp.content) == (
        status,
        content_type,
        body,
    )


def test_500_redirect_and_slow(cp: CPServer) -> None:
    cp.set_shape("500")
    assert get(cp).status_code == 500
    assert "error" in get(cp).json()

    cp.set_shape("302")
    resp = get(cp)
    assert (resp.status_code, resp.headers["location"]) == (302, f"{cp.url}/login")

    cp.set_shape("slow")
    with pytest.raises(httpx.ReadTimeout):
        get(cp, timeout=0.3)

    with pytest.raises(ValueError, match="'nope' is not a valid Shape"):
        cp.set_shape("nope")


def test_set_raw_and_set_pins(cp: CPServer) -> None:
    cp.set_raw(418, b"teapot", "text/plain")
    resp = get(cp)
    assert (resp.status_code, resp.text, resp.headers["content-type"]) == (
        418,
        "teapot",
        "text/plain",
    )

    dup = [make_pin("api", DIGEST_A), make_pin("api", DIGEST_B, registry_repo="r.example/ns/api")]
    cp.set_pins(dup)  # back to a normal 200
    rows = get(cp).json()["pins"]
    assert [r["image_digest"] for r in rows] == [DIGEST_A, DIGEST_B]
    assert "image_ref" not in rows[0]
    assert rows[1]["image_ref"] == f"r.example/ns/api@{DIGEST_B}"
    assert rows[1]["promoted_by"].startswith("api-token-")
    assert len(rows[1]["promoted_by"]) == len("api-token-") + 8
    assert rows[1]["promoted_at"].endswith("Z")


def test_requests_are_recorded(cp: CPServer) -> None:
    get(cp, headers={**AUTH, "Accept": "application/json"})
    httpx.delete(cp.url + DEFAULT_PATH + "?x=1")

    first, second = cp.requests
    assert (first.method, first.path) == ("GET", DEFAULT_PATH)
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert first.headers["accept"] == "application/json"
    assert (second.method, second.path, second.query) == ("DELETE", DEFAULT_PATH, "x=1")
    assert "authorization" not in second.headers


def test_delay_holds_the_answer() -> None:
    with CPServer.start(token=TOKEN, delay=0.3) as cp:
        began = time.monotonic()
        assert get(cp).status_code == 200
        assert time.monotonic() - began >= 0.3  # a lower bound only: load adds, never removes


def test_delayed_answers_are_held_concurrently() -> None:
    """Counted, not timed: with a delay far longer than the test, four requests are all
    received while none has been answered, so one held answer never blocks the next."""
    cp = CPServer.start(token=TOKEN, delay=120)
    with ThreadPoolExecutor(4) as pool:
        try:
            futures = [pool.submit(get, cp, timeout=120) for _ in range(4)]
            deadline = time.monotonic() + 30  # only a failing test waits this long
            while len(cp.requests) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(cp.requests) == 4
            assert not any(f.done() for f in futures)
        finally:
            cp.stop()  # drops the held answers: the clients see the connection close
    for future in futures:
        with pytest.raises(httpx.TransportError):
            future.result()


def test_stop_is_idempotent_and_closes_the_port() -> None:
    cp = CPServer.start(token=TOKEN)
    cp.stop()
    cp.stop()
    with pytest.raises(httpx.ConnectError):
        get(cp)


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "cpserver printed no URL in time"
    return proc.stdout.readline().strip()


def test_process_mode_rereads_the_pins_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    pins_file = tmp_path / "pins.json"
    write_pins_file(pins_file, [PinRow("api", DIGEST_A)])
    cmd = [sys.executable, "-m", "tests.support.cpserver", "--port", "0"]
    cmd += ["--token-file", str(token_file), "--pins-file", str(pins_file)]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = _read_line(proc, timeout=10)
        assert url.startswith("http://127.0.0.1:")
        endpoint = url + DEFAULT_PATH

        assert httpx.get(endpoint).status_code == 401
        first = httpx.get(endpoint, headers=AUTH)
        assert first.json()["pins"][0]["image_digest"] == DIGEST_A

        write_pins_file(pins_file, [PinRow("api", DIGEST_B)])
        assert httpx.get(endpoint, headers=AUTH).json()["pins"][0]["image_digest"] == DIGEST_B

        write_pins_file(pins_file, [{"template_name": "api"}], shape="data")
        assert httpx.get(endpoint, headers=AUTH).json() == {"data": [{"template_name": "api"}]}

        pins_file.write_text(json.dumps([{"template_name": "bare"}]))
        assert httpx.get(endpoint, headers=AUTH).json() == {"pins": [{"template_name": "bare"}]}
    finally:
        proc.terminate()
        returncode = proc.wait(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()
    assert returncode == 0

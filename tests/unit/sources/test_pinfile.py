"""Pin files: `<repo>@sha256:<hex>` references in YAML, HCL, compose, JSON, .env.

Digests are computed here from bytes (`hashlib`), never typed by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from truedigest.errors import ExitCode, InputFileError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.sources import pinfile
from truedigest.sources.pinfile import (
    MalformedPin,
    PinRef,
    find_pins,
    malformed_pins,
    scan_file,
    scan_text,
)
from truedigest.sources.reading import MAX_INPUT_BYTES, read_input_text


def sha(label: str) -> str:
    return f"sha256:{hashlib.sha256(label.encode()).hexdigest()}"


D1, D2, D3 = sha("one"), sha("two"), sha("three")
D512 = f"sha512:{hashlib.sha512(b'one').hexdigest()}"
REPO = "registry.example.com/team/app"
IMAGE = parse_reference(f"{REPO}:v1")
NGINX = parse_reference("nginx:1.27")

K8S_YAML = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: "{REPO}:v1@{D1}"
      containers:
        - name: app
          image: {REPO}@{D1}
        - name: proxy
          image: registry.example.com/team/proxy@{D2}
        - name: other-registry
          image: ghcr.io/team/app@{D3}
        - name: tag-only
          image: {REPO}:v1
"""

HELM_VALUES = f"""\
image:
  repository: {REPO}
  tag: v1
  digest: {D2}  # a bare digest is not a reference: no pin
sidecar:
  image: '{REPO}@{D3}'
"""

TERRAFORM = f"""\
resource "kubernetes_deployment" "app" {{
  spec {{
    container {{
      image = "{REPO}@{D1}"
    }}
    container {{
      image = "${{var.registry}}/team/app@{D2}"
    }}
  }}
}}
locals {{
  worker = "registry.example.com/team/worker@{D3}"
}}
"""

COMPOSE = f"""\
services:
  app:
    image: {REPO}:v1@{D1}
  db:
    image: postgres@{D2}
  cache:
    image: "{{{{ .Values.registry }}}}/team/app@{D3}"
"""

JSON_DOC = json.dumps(
    {
        "pins": [
            {"template_name": "app", "image_ref": f"{REPO}@{D1}"},
            {"template_name": "worker", "image_ref": f"registry.example.com/team/worker@{D2}"},
        ],
        "mirror": f"docker://{REPO}:v1@{D3}",
    },
    indent=2,
)

DOTENV = f"""\
APP_IMAGE={REPO}@{D1}
WORKER_IMAGE=registry.example.com/team/worker@{D2}
APP_IMAGE_SHA512={REPO}@{D512}
"""

NO_SPACE = f"image:{REPO}@{D1}\nimage:localhost:5000/team/app@{D2}\n"


@pytest.mark.parametrize(
    ("name", "text", "image", "want"),
    [
        pytest.param(
            "deployment.yaml",
            K8S_YAML,
            IMAGE,
            [(10, f"{REPO}:v1@{D1}", "v1"), (13, f"{REPO}@{D1}", None)],
            id="kubernetes-yaml",
        ),
        pytest.param(
            "values.yaml", HELM_VALUES, IMAGE, [(6, f"{REPO}@{D3}", None)], id="helm-values"
        ),
        pytest.param("main.tf", TERRAFORM, IMAGE, [(4, f"{REPO}@{D1}", None)], id="terraform"),
        pytest.param("compose.yaml", COMPOSE, IMAGE, [(3, f"{REPO}:v1@{D1}", "v1")], id="compose"),
        pytest.param(
            "pins.json",
            JSON_DOC,
            IMAGE,
            [(5, f"{REPO}@{D1}", None), (12, f"{REPO}:v1@{D3}", "v1")],
            id="json",
        ),
        pytest.param(
            ".env",
            DOTENV,
            IMAGE,
            [(1, f"{REPO}@{D1}", None), (3, f"{REPO}@{D512}", None)],
            id="dotenv-and-sha512",
        ),
        pytest.param(
            "compose.yaml",
            COMPOSE,
            parse_reference("docker.io/library/postgres:16"),
            [(5, f"postgres@{D2}", None)],
            id="docker-hub-short-name",
        ),
        pytest.param(
            "loose.yaml",
            NO_SPACE,
            parse_reference("localhost:5000/team/app"),
            [(2, f"localhost:5000/team/app@{D2}", None)],
            id="key-without-space-and-port",
        ),
        pytest.param(
            "loose.yaml", NO_SPACE, IMAGE, [(1, f"{REPO}@{D1}", None)], id="key-without-space"
        ),
        pytest.param("empty.yaml", "", IMAGE, [], id="empty-file"),
        pytest.param("readme.txt", "no pins here: sha256 only\n", IMAGE, [], id="no-references"),
    ],
)
def test_find_pins(
    tmp_path: Path,
    name: str,
    text: str,
    image: ImageRef,
    want: list[tuple[int, str, str | None]],
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    pins = find_pins(path, image=image)
    assert [(p.line, p.reference, p.ref.tag) for p in pins] == want
    for pin in pins:
        assert pin.path == path
        assert (pin.ref.registry, pin.ref.repository) == (image.registry, image.repository)
        assert pin.ref.digest == pin.digest
        assert pin.reference.endswith(f"@{pin.digest}")


DOCKER_HUB_SPELLINGS = [
    f"nginx@{D1}",
    f"nginx:1.27@{D1}",
    f"library/nginx@{D1}",
    f"docker.io/nginx@{D1}",
    f"docker.io/library/nginx:1.27@{D1}",
    f"index.docker.io/library/nginx@{D1}",
    f"registry-1.docker.io/library/nginx@{D1}",
]
NOT_NGINX = [
    f"nginxinc/nginx-unprivileged@{D2}",
    f"ghcr.io/library/nginx@{D2}",
    f"docker.io/bitnami/nginx@{D2}",
    f"quay.io/nginx/nginx-ingress@{D2}",
]


def test_docker_hub_normalisation(tmp_path: Path) -> None:
    lines = [f"- image: {ref}" for ref in [*DOCKER_HUB_SPELLINGS, *NOT_NGINX]]
    path = tmp_path / "images.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pins = find_pins(path, image=NGINX)
    assert [p.reference for p in pins] == DOCKER_HUB_SPELLINGS
    assert [p.line for p in pins] == list(range(1, len(DOCKER_HUB_SPELLINGS) + 1))
    assert {p.ref.name for p in pins} == {"registry-1.docker.io/library/nginx"}
    assert {p.digest for p in pins} == {Digest.parse(D1)}


def test_scan_text_finds_every_reference() -> None:
    path = Path("deployment.yaml")
    pins = scan_text(K8S_YAML, path)
    assert [(p.line, p.ref.name) for p in pins] == [
        (10, REPO),
        (13, REPO),
        (15, "registry.example.com/team/proxy"),
        (17, "ghcr.io/team/app"),
    ]
    assert pins[0] == PinRef(
        path=path,
        line=10,
        reference=f"{REPO}:v1@{D1}",
        ref=parse_reference(f"{REPO}:v1@{D1}"),
        digest=Digest.parse(D1),
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"image: {REPO}@{D1}0\n", id="digest-too-long"),
        pytest.param(f"image: {REPO}@{D1[:-1]}\n", id="digest-too-short"),
        pytest.param(f"image: {REPO}@{D1.upper()}\n", id="uppercase"),
        pytest.param(f"image: UPPER/App@{D1}\n", id="uppercase-repository"),
        pytest.param(f"image: {{{{ .Values.registry }}}}/team/app@{D1}\n", id="helm-template"),
        pytest.param(f"image: ${{REGISTRY}}/team/app@{D1}\n", id="shell-variable"),
        pytest.param(f"see @{D1}\n", id="no-name"),
    ],
)
def test_scan_text_skips_what_is_not_a_reference(text: str) -> None:
    assert scan_text(text, Path("f")) == []


_COMPONENT = st.from_regex(r"[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}", fullmatch=True)
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_WRAPPERS = st.sampled_from(
    ["image: {}", 'image: "{}"', "image: '{}'", "IMAGE={}", '"image_ref": "{}",', "- {}", "{}"]
)


@given(
    path=st.lists(_COMPONENT, min_size=1, max_size=3),
    tag=st.none() | _TAG,
    wrapper=_WRAPPERS,
    seed=st.binary(max_size=16),
)
def test_scan_text_round_trips_generated_references(
    path: list[str], tag: str | None, wrapper: str, seed: bytes
) -> None:
    digest = f"sha256:{hashlib.sha256(seed).hexdigest()}"
    text = f"registry.example.com:5000/{'/'.join(path)}"
    if tag is not None:
        text += f":{tag}"
    text += f"@{digest}"
    pins = scan_text(f"# header\n{wrapper.format(text)}\n", Path("f"))
    assert [(p.line, p.reference) for p in pins] == [(2, text)]
    assert pins[0].ref == parse_reference(text)


# --- malformed pins -------------------------------------------------------------------

HEX1 = D1.removeprefix("sha256:")

BROKEN = f"""\
containers:
  - image: {REPO}@sha256:{HEX1[:12]}
  - image: {REPO}:v1@sha256:{HEX1.upper()}
  - image: {REPO}@sha256:{HEX1}ab
  - image: {REPO}@SHA256:{HEX1}
  - image: {REPO}@sha256:
  - image: {REPO}@{D1}
  - image: registry.example.com/team/worker@sha256:{HEX1[:12]}
  - image: ghcr.io/team/app@sha256:{HEX1[:12]}
"""


def test_malformed_pins(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    assert malformed_pins(path, image=IMAGE) == [
        (2, f"{REPO}@sha256:{HEX1[:12]}"),
        (3, f"{REPO}:v1@sha256:{HEX1.upper()}"),
        (4, f"{REPO}@sha256:{HEX1}ab"),
        (5, f"{REPO}@SHA256:{HEX1}"),
        (6, f"{REPO}@sha256:"),
    ]
    # The well-formed pin on line 7 is a pin, and the broken ones are not.
    assert [p.line for p in find_pins(path, image=IMAGE)] == [7]


def test_malformed_pins_docker_hub(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(
        f"web:\n  image: nginx@sha256:{HEX1[:-1]}\nother:\n  image: redis@sha256:abc\n",
        encoding="utf-8",
    )
    assert malformed_pins(path, image=NGINX) == [(2, f"nginx@sha256:{HEX1[:-1]}")]


def test_malformed_pins_none(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text(K8S_YAML, encoding="utf-8")
    assert malformed_pins(path, image=IMAGE) == []


def test_scan_file_reads_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    reads: list[Path] = []

    def counting(p: Path, *, what: str, hint: str) -> str:
        reads.append(p)
        return read_input_text(p, what=what, hint=hint)

    monkeypatch.setattr(pinfile, "read_input_text", counting)
    scan = scan_file(path, repo=IMAGE)
    assert reads == [path]
    assert [p.line for p in scan.pins] == [7]
    assert [m.line for m in scan.malformed] == [2, 3, 4, 5, 6]
    assert scan.malformed[0] == MalformedPin(
        2, f"{REPO}@sha256:{HEX1[:12]}", parse_reference(REPO, default_tag=None)
    )


def test_scan_file_without_repo_keeps_broken_pins_of_pinned_repositories(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    scan = scan_file(path, repo=None)
    assert [p.ref.name for p in scan.pins] == [REPO]
    # worker and ghcr.io/team/app have no well-formed pin here: their typos are not pins.
    assert {m.repository.name for m in scan.malformed} == {REPO}
    assert [m.line for m in scan.malformed] == [2, 3, 4, 5, 6]


# --- unusable files -------------------------------------------------------------------

Reader = Callable[[Path], object]
READERS: list[Reader] = [
    lambda p: find_pins(p, image=IMAGE),
    lambda p: malformed_pins(p, image=IMAGE),
    lambda p: scan_file(p, repo=None),
]


def _sparse_huge(path: Path) -> None:
    with path.open("wb") as fh:
        fh.truncate(MAX_INPUT_BYTES + 1)


@pytest.mark.parametrize("reader", READERS, ids=["find_pins", "malformed_pins", "scan_file"])
@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(lambda p: None, "no such file", id="missing"),
        pytest.param(lambda p: p.mkdir(), "is a directory", id="directory"),
        pytest.param(
            lambda p: p.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00"), "binary", id="binary"
        ),
        pytest.param(lambda p: p.write_bytes(b"image: caf\xe9\n"), "not UTF-8", id="latin-1"),
        pytest.param(_sparse_huge, "16 MiB", id="too-large"),
    ],
)
def test_unusable_pin_file(
    tmp_path: Path, reader: Reader, make: Callable[[Path], object], fragment: str
) -> None:
    path = tmp_path / "values.yaml"
    make(path)
    with pytest.raises(InputFileError) as info:
        reader(path)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert int(err.exit_code) == 2
    assert str(path) in err.message
    assert "--pin-file" in err.message
    assert fragment in err.message
    assert "\n" not in err.message
    assert err.instance_hint


# --- every OCI digest algorithm (sha256, sha384, sha512) --------------------------------

D384 = f"sha384:{hashlib.sha384(b'one').hexdigest()}"
HEX384 = D384.removeprefix("sha384:")


def test_all_three_oci_algorithms_are_pins(tmp_path: Path) -> None:
    path = tmp_path / "pins.env"
    path.write_text(f"A={REPO}@{D1}\nB={REPO}:v1@{D384}\nC={REPO}@{D512}\n", encoding="utf-8")
    pins = find_pins(path, image=IMAGE)
    assert [(p.line, str(p.digest)) for p in pins] == [(1, D1), (2, D384), (3, D512)]
    assert [p.digest.algorithm for p in pins] == ["sha256", "sha384", "sha512"]
    assert malformed_pins(path, image=IMAGE) == []


@pytest.mark.parametrize(
    "broken",
    [
        f"sha384:{HEX384[:-1]}",
        f"sha384:{HEX384}a",
        f"sha384:{HEX384.upper()}",
        f"SHA384:{HEX384}",
        f"sha256:{HEX384}",  # 96 hex under the wrong algorithm
    ],
    ids=["short", "long", "uppercase", "uppercase-algorithm", "sha256-with-96-hex"],
)
def test_broken_sha384_pin_is_malformed(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text(f"image: {REPO}@{broken}\n", encoding="utf-8")
    assert find_pins(path, image=IMAGE) == []
    assert malformed_pins(path, image=IMAGE) == [(1, f"{REPO}@{broken}")]

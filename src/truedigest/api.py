"""The public Python API: what the CLI does, as functions.

```python
from truedigest import parse_reference, resolve, verify, TruedigestError

resolved = resolve("registry.example.com/team/app:v1")
print(resolved.digest)          # sha256 of the bytes the registry served

report = verify(
    "registry.example.com/team/app:sha-1a2b3c4",
    cps={"prod": "https://cp.example.com"},
    template="app",
    build_digest="sha256:…",
)
print(report.verdict, report.exit_code)
```

A mismatch is data in the `Report` (verdict `mismatch`, exit code 1), never an
exception; `TruedigestError` (with `exit_code` and a hint) means the question could
not be asked: a malformed reference, a registry that could not be read for
`resolve`, a bad input file. Credentials come from the environment and credential
stores exactly as for the CLI, and go only to the registries of the references
given here. The request path is imported on the first call, not at import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from truedigest.oci.reference import ImageRef, parse_reference

if TYPE_CHECKING:
    from truedigest.model.observation import Report
    from truedigest.oci.httpconfig import ClientOptions
    from truedigest.oci.registry import RegistryClient, Resolved


def _attestation_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    from truedigest.errors import UsageError

    allowed = ("provenance", "sbom", "signature")
    for kind in kinds:
        if kind not in allowed:
            raise UsageError(f"require_attestations: {kind!r} is not one of {', '.join(allowed)}")
    return tuple(kinds)


__all__ = ["resolve", "verify"]


def _ref(value: str | ImageRef) -> ImageRef:
    return value if isinstance(value, ImageRef) else parse_reference(value)


def _options(
    plain_http: bool, insecure: bool, ca_file: str | Path | None, timeout: float
) -> ClientOptions:
    from truedigest.oci.httpconfig import ClientOptions

    return ClientOptions(
        plain_http=plain_http,
        insecure=insecure,
        ca_file=Path(ca_file) if ca_file is not None else None,
        timeout=timeout,
    )


def _client(options: ClientOptions, refs: Sequence[ImageRef]) -> RegistryClient:
    from truedigest.oci.registry import RegistryClient

    client = RegistryClient(options)
    client.restrict_env_credentials(r.registry for r in refs)
    return client


def resolve(
    ref: str | ImageRef,
    *,
    platform: str | None = None,
    head: bool = False,
    plain_http: bool = False,
    insecure: bool = False,
    ca_file: str | Path | None = None,
    timeout: float = 30.0,
) -> Resolved:
    """What `ref` points at now, straight from the registry.

    One GET; the digest is the hash of the bytes served (compared with the
    registry's header). `platform` ("linux/arm64") picks the matching child of an
    index; `head` trusts a well-formed `Docker-Content-Digest` header from a HEAD.
    Raises `TruedigestError` (`NotFoundError`, exit code 10, when the registry does
    not serve it)."""
    from truedigest.oci.manifest import Platform

    image = _ref(ref)
    wanted = Platform.parse(platform) if platform is not None else None
    with _client(_options(plain_http, insecure, ca_file, timeout), [image]) as client:
        return client.resolve(image, head=head, platform=wanted)


def verify(
    images: str | ImageRef | Sequence[str | ImageRef],
    *,
    cps: Mapping[str, str] | None = None,
    cp_token_envs: Mapping[str, str] | None = None,
    cp_path: str = "/cp/admin/runtime-image",
    template: str | None = None,
    region: str = "global",
    build_digest: str | None = None,
    build_metadata: str | Path | None = None,
    build_log: str | Path | None = None,
    digest_file: str | Path | None = None,
    oci_layout: str | Path | None = None,
    build_target: str | None = None,
    pin_files: Sequence[str | Path] = (),
    platform: str | None = None,
    git_sha: str | None = None,
    require_revision: bool = False,
    require_attestations: Sequence[str] = (),
    wait: float = 0.0,
    interval: float = 5.0,
    plain_http: bool = False,
    insecure: bool = False,
    ca_file: str | Path | None = None,
    timeout: float = 30.0,
) -> Report:
    """Cross-check the registry (the first image is the truth), every CP pin, the
    build output and pin files, as `truedigest verify` does.

    `cps` maps a CP name to its base URL; its token is read from the environment
    variable `cp_token_envs[name]` (default `CP_ADMIN_API_TOKEN`). At most one build
    source. `git_sha` (and a `sha-<hex>` tag) is checked against the commit the image
    records; `require_revision` fails an image that records none; `require_attestations`
    (`provenance`, `sbom`, `signature`) fails unless each sits on the truth digest.
    Returns the `Report`
    (`verdict`, `exit_code`, `truth`, `sources`, `to_json()`); raises `TruedigestError`
    only for usage errors (exit code 2)."""
    from truedigest.core.plan import VerifyPlan
    from truedigest.cp.client import build_targets
    from truedigest.engine.verify_run import run_verify
    from truedigest.errors import UsageError
    from truedigest.oci.manifest import Platform
    from truedigest.sources.build import select

    given = [images] if isinstance(images, str | ImageRef) else list(images)
    if not given:
        raise UsageError("verify needs at least one image")
    refs = tuple(dict.fromkeys(_ref(i) for i in given))
    targets = build_targets(list((cps or {}).items()), list((cp_token_envs or {}).items()), cp_path)
    if targets and not template:
        raise UsageError("a CP needs a template to select the pin row")
    source = select(
        {
            "build_digest": build_digest,
            "build_metadata": build_metadata,
            "build_log": build_log,
            "digest_file": digest_file,
            "oci_layout": oci_layout,
        },
        build_target,
    )
    plan = VerifyPlan(
        images=refs,
        platform=Platform.parse(platform) if platform is not None else None,
        cps=targets,
        template=template,
        region=region,
        git_sha=git_sha,
        require_revision=require_revision,
        require_attestations=_attestation_kinds(require_attestations),
        build=source.read(refs[0]) if source is not None else None,
        pin_files=tuple(Path(p) for p in pin_files),
        wait=wait,
        interval=interval,
    )
    if plan.compares_nothing:
        raise UsageError(
            f"nothing to compare: {refs[0]} is the only source",
            hint="add a second image, a CP with a template, a build output or a pin file",
        )
    options = _options(plain_http, insecure, ca_file, timeout).with_wait(wait)
    with _client(options, refs) as client:
        return run_verify(plan, client)

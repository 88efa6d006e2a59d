"""Run `verify`: read every source (concurrently), repeat under --wait, then judge.

Sits between the CLI and the sources: it owns the thread pool and the clock,
while `verify.evaluate` stays pure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from truedigest.core.verdicts import digests_agree, evaluate
from truedigest.cp.client import CPClient, CPTarget
from truedigest.model.observation import Observation, Report, SourceKind, Status
from truedigest.oci.manifest import Platform
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient, Resolved
from truedigest.sources import build as build_source
from truedigest.sources import pinfile
from truedigest.sources.cp_rows import observe_cp
from truedigest.sources.registry_tag import RegistryDiagnoser, observe_image

_SHA_TAG = re.compile(r"^sha-([0-9a-f]{7,40})\Z")


@dataclass(frozen=True, slots=True)
class VerifyPlan:
    images: Sequence[ImageRef]
    platform: Platform | None = None
    cps: Sequence[CPTarget] = ()
    template: str | None = None
    region: str = "global"
    git_sha: str | None = None
    build: build_source.BuildClaim | None = None
    pin_files: Sequence[Path] = ()
    wait: float = 0.0
    interval: float = 5.0

    @property
    def expected_git_sha(self) -> str | None:
        if self.git_sha:
            return self.git_sha
        for image in self.images:
            m = _SHA_TAG.match(image.tag or "")
            if m:
                return m.group(1)
        return None


def build_observation(claim: build_source.BuildClaim) -> Observation:
    extra: dict[str, object] = {}
    if claim.media_type:
        extra["media_type"] = claim.media_type
    if claim.size is not None:
        extra["size"] = claim.size
    return Observation(
        claim.source_id,
        SourceKind.BUILD,
        claim.where,
        claim.digest,
        Status.OK,
        detail=claim.detail,
        extra=extra,
    )


def pin_file_observations(path: Path, image: ImageRef) -> list[Observation]:
    """Every distinct pin of `image`'s repository in a text file (GitOps pins).

    Every row's id is `file:<path>` (DESIGN §4); `where` and `lines` say which lines.
    """
    scan = pinfile.scan_file(path, repo=image)
    source_id = f"file:{path}"
    by_digest: dict[str, list[pinfile.PinRef]] = {}
    for pin in scan.pins:
        by_digest.setdefault(str(pin.digest), []).append(pin)
    out: list[Observation] = []
    for refs in by_digest.values():
        first = refs[0]
        lines = ", ".join(str(p.line) for p in refs)
        out.append(
            Observation(
                source_id,
                SourceKind.FILE,
                f"{path}:{first.line}",
                first.digest,
                Status.OK,
                extra={
                    "path": str(path),
                    "lines": [p.line for p in refs],
                    "reference": first.reference,
                },
                detail=None if len(refs) == 1 else f"lines {lines}",
            )
        )
    out.extend(
        Observation(
            source_id,
            SourceKind.FILE,
            f"{path}:{broken.line}",
            None,
            Status.MISMATCH,
            detail=f"malformed digest in {broken.text!r}: a broken pin",
            extra={"path": str(path), "lines": [broken.line]},
        )
        for broken in scan.malformed
    )
    if not out:
        out.append(
            Observation(
                source_id,
                SourceKind.FILE,
                str(path),
                None,
                Status.MISSING,
                detail=f"no {image.name}@sha256:… reference in the file",
                extra={"path": str(path)},
            )
        )
    return out


def static_observations(plan: VerifyPlan) -> tuple[Observation, ...]:
    """Sources that do not change while we wait: build output and pin files."""
    out: list[Observation] = []
    if plan.build is not None:
        out.append(build_observation(plan.build))
    for path in plan.pin_files:
        out.extend(pin_file_observations(path, plan.images[0]))
    return tuple(out)


def run_verify(
    plan: VerifyPlan,
    registry: RegistryClient,
    *,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_round: Callable[[int, bool], None] | None = None,
) -> Report:
    cp_client = CPClient(registry.transport, env)
    static = static_observations(plan)
    deadline = clock() + max(plan.wait, 0.0)
    rounds = 0
    with ThreadPoolExecutor(max_workers=max(1, len(plan.images) + len(plan.cps))) as pool:
        while True:
            rounds += 1
            image_futures = [
                pool.submit(observe_image, registry, ref, plan.platform) for ref in plan.images
            ]
            cp_futures = [
                pool.submit(
                    observe_cp,
                    cp_client,
                    target,
                    template=plan.template or "",
                    region=plan.region,
                    image=plan.images[0],
                    git_sha=plan.expected_git_sha,
                    require_git_sha=bool(plan.git_sha),
                )
                for target in plan.cps
            ]
            images = [f.result() for f in image_futures]
            observations = [obs for obs, _ in images] + [f.result() for f in cp_futures]
            observations.extend(static)
            agree = digests_agree(observations)
            remaining = deadline - clock()
            if agree or remaining <= 0:
                break
            # Only when another round follows: "waiting" must not be said of the last one.
            if on_round is not None:
                on_round(rounds, agree)
            sleep(min(plan.interval, remaining))  # the last round runs at the deadline
    truth: Resolved | None = images[0][1]
    oracle = RegistryDiagnoser(registry, truth) if truth is not None else None
    context: dict[str, object] = {
        "image": str(plan.images[0]),
        "template": plan.template,
        "region": plan.region if plan.cps else None,
        "platform": str(plan.platform) if plan.platform else None,
    }
    return evaluate(observations, oracle=oracle, rounds=rounds, context=context)

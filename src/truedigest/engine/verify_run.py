"""Run `verify`: read every source (concurrently), repeat under --wait, then judge.

Sits between the CLI and the sources: it owns the thread pool and the clock,
while the plan (`core.plan`) and `core.verdicts.evaluate` stay pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import cast

from truedigest.core.commit_check import apply_identity, commit_claims
from truedigest.core.plan import VerifyPlan
from truedigest.core.verdicts import digests_agree, evaluate
from truedigest.cp.client import CPClient
from truedigest.engine.fanout import gather
from truedigest.model.observation import Observation, Report
from truedigest.oci.registry import RegistryClient, Resolved
from truedigest.sources.cp_rows import observe_cp
from truedigest.sources.registry_tag import RegistryDiagnoser, observe_image


def static_observations(plan: VerifyPlan) -> tuple[Observation, ...]:
    """Sources that do not change while we wait: build output and pin files."""
    out: list[Observation] = []
    if plan.build is not None:
        out.append(plan.build)
    if plan.pin_files:
        from truedigest.sources import pinfile  # only a run given pin files imports it

    for path in plan.pin_files:
        out.extend(pinfile.pin_file_sources(path, image=plan.images[0]))
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
    image_reads = [partial(observe_image, registry, ref, plan.platform) for ref in plan.images]
    cp_reads = [
        partial(
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
    reads: list[Callable[[], object]] = [*image_reads, *cp_reads]
    while True:
        rounds += 1
        results = gather(reads)  # every source at once (the same reads each round)
        images = cast(list[tuple[Observation, Resolved | None]], results[: len(image_reads)])
        cps = cast(list[Observation], results[len(image_reads) :])
        observations = [obs for obs, _ in images] + cps
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
    report = evaluate(observations, oracle=oracle, rounds=rounds, context=context)
    report = check_commits(plan, registry, truth, report)
    return check_attestations(plan, registry, truth, report)


def check_commits(
    plan: VerifyPlan, registry: RegistryClient, truth: Resolved | None, report: Report
) -> Report:
    """Identity work, only when asked: a commit claim about the truth digest (--git-sha,
    a sha-<hex> tag, a CP row's git_sha) or --require-revision."""
    claims = commit_claims(report, plan.git_sha)
    if truth is None or report.truth is None or not (claims or plan.require_revision):
        return report
    from truedigest.engine.identity_run import read_identity  # only when a check asks

    identity = read_identity(registry, truth)
    return apply_identity(report, claims, identity, require_revision=plan.require_revision)


def check_attestations(
    plan: VerifyPlan, registry: RegistryClient, truth: Resolved | None, report: Report
) -> Report:
    """--require-attestation: one `attestation:<kind>` row per kind (no request otherwise)."""
    if truth is None or report.truth is None or not plan.require_attestations:
        return report
    from dataclasses import replace

    from truedigest.core.attestations import AttestationKind, rows
    from truedigest.core.verdicts import verdict_of
    from truedigest.engine.attestation_run import survey

    kinds = [AttestationKind(k) for k in plan.require_attestations]
    added = rows(survey(registry, truth, kinds), kinds)
    sources = (*report.sources, *added)
    return replace(report, sources=sources, verdict=verdict_of(sources))

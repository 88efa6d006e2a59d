"""`scripts/bench` section: verify's sources are read concurrently (in-process).

One image (registry behind the latency proxy) and two CPs that each answer after
0.3 s: the wall time of `run_verify` against the slowest source alone and the sum
of all sources, and the requests each source got. In-process on purpose: this
compares verify with its own sources, and start-up is measured whole-process in
the start-up section (`truedigest verify`, 1 image + 1 CP).
"""

from __future__ import annotations

import secrets
from functools import partial
from pathlib import Path

from scripts.bench_proc import Json, median, ms, timed
from scripts.bench_sections import proxy_for
from tests.support.cpserver import CPServer, make_pin
from tests.support.images import Pusher, build_image, push_image
from tests.support.registry import RegistryServer

CP_DELAY = 0.3


def bench_verify(work: Path, rtt_ms: float, reps: int, cp_delay: float = CP_DELAY) -> Json:
    from truedigest.core.plan import VerifyPlan
    from truedigest.cp.client import CPClient, CPTarget
    from truedigest.engine.verify_run import run_verify
    from truedigest.oci.auth import CredentialStore
    from truedigest.oci.reference import parse_reference
    from truedigest.oci.registry import RegistryClient
    from truedigest.oci.transport import ClientOptions
    from truedigest.sources.cp_rows import observe_cp
    from truedigest.sources.registry_tag import observe_image

    token = secrets.token_urlsafe(24)
    env = {"CP_ADMIN_API_TOKEN": token}
    repo, sha = "bench/verify", "1a2b3c4" + secrets.token_hex(17)[:33]
    tag = f"sha-{sha[:7]}"
    # the commit as an annotation too: the sha- tag's commit check reads it from the
    # manifest already fetched (no extra request on the agree path)
    image = build_image(
        repo,
        salt="bench-verify",
        label=sha,
        annotations={"org.opencontainers.image.revision": sha},
    )

    def client() -> RegistryClient:
        return RegistryClient(ClientOptions(plain_http=True), credentials=CredentialStore(env={}))

    with RegistryServer.start("plain", work / "verify") as registry:
        with Pusher(registry) as pusher:
            digest = push_image(pusher, repo, image, tag=tag)
        with (
            proxy_for(registry, rtt_ms) as proxy,
            CPServer.start(token=token, delay=cp_delay) as cp_a,
            CPServer.start(token=token, delay=cp_delay) as cp_b,
        ):
            ref = parse_reference(f"{proxy.host}/{repo}:{tag}")
            pin = make_pin("app", digest, registry_repo=f"{proxy.host}/{repo}", git_sha=sha)
            cp_a.set_pins([pin])
            cp_b.set_pins([pin])
            cps = {"cp-a": cp_a, "cp-b": cp_b}
            targets = [CPTarget(name, cp.url) for name, cp in cps.items()]
            plan = VerifyPlan(images=[ref], cps=targets, template="app")

            alone: dict[str, list[float]] = {"registry": [], "cp-a": [], "cp-b": []}
            alone_requests: dict[str, int] = {}
            for _ in range(reps):
                with client() as c:
                    seconds, (obs, _) = timed(partial(observe_image, c, ref, None))
                    if str(obs.digest) != digest:
                        raise RuntimeError(f"registry source: {obs.status} {obs.detail}")
                    alone["registry"].append(seconds)
                    alone_requests["registry"] = c.requests_made
                for target in targets:
                    server = cps[target.name]
                    before = len(server.requests)
                    with client() as c:
                        cp_client = CPClient(c.transport, env)
                        seconds, obs = timed(
                            partial(
                                observe_cp,
                                cp_client,
                                target,
                                template="app",
                                region="global",
                                image=ref,
                                git_sha=sha,
                            )
                        )
                    if str(obs.digest) != digest:
                        raise RuntimeError(f"{target.name} source: {obs.status} {obs.detail}")
                    alone[target.name].append(seconds)
                    alone_requests[target.name] = len(server.requests) - before

            walls: list[float] = []
            per_source: dict[str, int] = {}
            verdict = ""
            for _ in range(reps):
                seen = {name: len(cp.requests) for name, cp in cps.items()}
                with client() as c:
                    seconds, report = timed(partial(run_verify, plan, c, env=env))
                    by_host = dict(c.transport.stats.by_host)
                walls.append(seconds)
                verdict = str(report.verdict)
                per_source = {"registry": by_host.get(proxy.host, 0)}
                for name, cp in cps.items():
                    per_source[name] = len(cp.requests) - seen[name]
            if verdict != "agree":
                raise RuntimeError(f"verify did not agree: {verdict}")

    alone_ms = {name: ms(median(times)) for name, times in alone.items()}
    slowest = max(median(times) for times in alone.values())
    total = sum(median(times) for times in alone.values())
    wall = median(walls)
    return {
        "rtt_ms": rtt_ms,
        "cp_delay_ms": ms(cp_delay),
        "repetitions": reps,
        "verdict": verdict,
        "wall_ms": ms(wall),
        "source_alone_ms": alone_ms,
        "slowest_source_ms": ms(slowest),
        "sum_of_sources_ms": ms(total),
        "wall_over_slowest": round(wall / slowest, 2),
        "requests_per_source": per_source,
        "requests_per_source_alone": alone_requests,
    }

"""Run `running`: read what runs, read the registry and the pins, judge, repeat under --wait.

The judgement is pure (`core.running_judge`); this module owns the reads, the
thread pool and the clock:
1. records from every `--from` file (stdin read once) and `--from-cmd` command;
2. the truth: GET `--image` (with `--platform`, the matching child of its index);
   every child of the index is read too (its config, for image IDs);
3. the pins: the CP row for (template, region) of each `--cp`, the `--image`
   references of each `--pin-file`; each pinned digest is looked up in the
   `--image` repository;
4. each running digest the view does not explain yet (at most MAX_LOOKUPS) is
   looked up there: 200 -> served, 404 -> missing, anything else -> unknown;
5. judge. Under `--wait`, read the inputs again (step 4 for new digests only)
   every `--interval` until every container runs the truth or time runs out.
   The truth and the pins are read once: when they cannot pass, waiting stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from truedigest.base.fileio import STDIN, read_input
from truedigest.core.running_judge import converged, judge_running
from truedigest.core.running_relate import digests_to_look_up, knowledge_of
from truedigest.cp.client import CPClient, CPTarget
from truedigest.engine.running_cmd import Command, run_command
from truedigest.errors import (
    NotFoundError,
    PlatformNotFoundError,
    RunningCommandError,
    RunningInputError,
    TruedigestError,
    UsageError,
)
from truedigest.model.observation import Observation, Status
from truedigest.model.running_state import (
    ManifestKnowledge,
    RegistryView,
    RowStatus,
    RunningRecord,
    RunningReport,
    TruthState,
)
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Platform
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient, select_platform
from truedigest.sources import pinfile
from truedigest.sources.cp_rows import observe_cp
from truedigest.sources.running_inputs import parse_documents

WORKERS = 8


@dataclass(frozen=True, slots=True)
class RunningPlan:
    image: ImageRef
    paths: tuple[str, ...] = ()
    commands: tuple[Command, ...] = ()
    platform: Platform | None = None
    cps: tuple[CPTarget, ...] = ()
    template: str | None = None
    region: str = "global"
    pin_files: tuple[Path, ...] = ()
    wait: float = 0.0
    interval: float = 5.0


# -- what runs -------------------------------------------------------------------------


class Inputs:
    """Reads every input again on each call; standard input is read once and kept."""

    def __init__(self, plan: RunningPlan, time_left: Callable[[], float], timeout: float) -> None:
        self.plan = plan
        self.time_left = time_left
        self.timeout = timeout
        self._stdin: bytes | None = None

    def _file(self, path: str) -> bytes:
        if path != STDIN:
            return read_input(path, what="--from", allow_stdin=False, error=RunningInputError)
        if self._stdin is None:
            self._stdin = read_input(path, what="--from", allow_stdin=True, error=RunningInputError)
        return self._stdin

    def read(self) -> list[RunningRecord]:
        files = [(p, self._file(p)) for p in self.plan.paths]
        # A file that is not a runtime's JSON is the user's input: exit 2, before any command.
        records = parse_documents(files, error=RunningInputError)
        if not self.plan.commands:
            return records
        outputs = []
        many = len(self.plan.commands) > 1
        for i, command in enumerate(self.plan.commands, 1):
            left = self.time_left()
            if left <= 0:
                raise RunningCommandError(
                    f"{command.shown}: the run's deadline passed before it could run"
                )
            out = run_command(command, timeout=min(self.timeout, left))
            outputs.append((f"--from-cmd[{i}]" if many else "--from-cmd", out))
        # Together: image-inspect entries of any document complete the containers of all.
        return parse_documents([*files, *outputs], error=RunningCommandError)


# -- what the registry says ------------------------------------------------------------


@dataclass
class Facts:
    """What the registry answered for each digest asked about (a RegistryView's parts)."""

    manifests: dict[Digest, ManifestKnowledge] = field(default_factory=dict)
    served: set[Digest] = field(default_factory=set)
    missing: set[Digest] = field(default_factory=set)
    unknown: dict[Digest, str] = field(default_factory=dict)

    def asked(self, digest: Digest) -> bool:
        return digest in self.manifests or digest in self.missing or digest in self.unknown

    def look_up(
        self,
        client: RegistryClient,
        image: ImageRef,
        digests: Iterable[Digest],
        pool: ThreadPoolExecutor,
    ) -> None:
        wanted = [d for d in dict.fromkeys(digests) if not self.asked(d)]
        for digest, answer in zip(
            wanted, pool.map(lambda d: _get(client, image, d), wanted), strict=True
        ):
            if isinstance(answer, ManifestKnowledge):
                self.manifests[digest] = answer
                self.served.add(digest)
            elif answer is None:
                self.missing.add(digest)
            else:
                self.unknown[digest] = answer

    def into(self, view: RegistryView) -> RegistryView:
        return replace(
            view,
            manifests=dict(self.manifests),
            served=frozenset(self.served),
            missing=frozenset(self.missing),
            unknown=dict(self.unknown),
        )


def _get(client: RegistryClient, image: ImageRef, digest: Digest) -> ManifestKnowledge | str | None:
    """The manifest's knowledge; None when the repository does not serve it; else why not."""
    try:
        return knowledge_of(client.get_manifest(image, digest))
    except NotFoundError:
        return None
    except TruedigestError as exc:
        return exc.message


def read_truth(
    client: RegistryClient, plan: RunningPlan, facts: Facts, pool: ThreadPoolExecutor
) -> RegistryView:
    """The view of `--image`: the truth and every child of its index, as `verify` resolves it
    (absent: 10; any other failure: unavailable). Usage errors propagate."""
    image, platform = plan.image, plan.platform
    view = RegistryView(
        reference=str(image),
        repository=image.name,
        truth=None,
        platform=str(platform) if platform else None,
    )
    try:
        top = client.get_manifest(image)
        facts.manifests[top.digest] = knowledge_of(top)
        facts.served.add(top.digest)
        truth = top.digest
        if top.is_index and platform is not None:
            truth = select_platform(top, platform, str(image)).digest
            child = client.get_manifest(image, truth)  # as verify: the truth must be served
            facts.manifests[truth] = knowledge_of(child)
            facts.served.add(truth)
        elif platform is not None:
            actual = client.config_platform(image, top)
            if actual is None or not actual.matches(platform):
                raise PlatformNotFoundError(
                    f"{image} is a single-platform image for "
                    f"{actual or 'an unknown platform'}, not {platform}"
                )
    except UsageError:
        raise
    except NotFoundError as exc:
        return replace(view, state=TruthState.ABSENT, problem=exc.message)
    except TruedigestError as exc:
        return replace(view, state=TruthState.UNAVAILABLE, problem=exc.message)
    if top.is_index:
        facts.look_up(client, image, facts.manifests[top.digest].children, pool)
    return replace(view, truth=truth)


def pin_file_pins(plan: RunningPlan) -> list[Observation]:
    """The `--image` references of each `--pin-file` (read before any request: exit 2)."""
    return [o for path in plan.pin_files for o in pinfile.pin_file_sources(path, image=plan.image)]


def cp_pins(
    client: RegistryClient,
    plan: RunningPlan,
    pool: ThreadPoolExecutor,
    env: Mapping[str, str] | None,
) -> list[Future[Observation]]:
    """The CP row for (template, region) of each `--cp`, read concurrently."""
    cp_client = CPClient(client.transport, env)
    return [
        pool.submit(
            observe_cp,
            cp_client,
            target,
            template=plan.template or "",
            region=plan.region,
            image=plan.image,
            git_sha=None,
        )
        for target in plan.cps
    ]


# -- the run ---------------------------------------------------------------------------


def _may_change(report: RunningReport, view: RegistryView) -> bool:
    """Only the containers are read again: a truth or pin that fails stays failed."""
    if view.truth is None or view.state is not TruthState.READ:
        return False
    return all(p.status is RowStatus.OK for p in report.pins)


def run_running(
    plan: RunningPlan,
    client: RegistryClient,
    *,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_round: Callable[[int, RunningReport], None] | None = None,
) -> RunningReport:
    transport = client.transport
    inputs = Inputs(
        plan,
        time_left=lambda: transport.run_ends - transport.clock(),
        timeout=transport.options.timeout,
    )
    records = inputs.read()  # bad input is exit 2 before any request
    static = pin_file_pins(plan)
    deadline = clock() + max(plan.wait, 0.0)
    facts = Facts()
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="running") as pool:
        cp_futures = cp_pins(client, plan, pool, env)
        view = read_truth(client, plan, facts, pool)
        pins = [f.result() for f in cp_futures] + static
        if view.truth is not None:
            pinned = [p.digest for p in pins if p.status is Status.OK and p.digest is not None]
            facts.look_up(client, plan.image, pinned, pool)
        rounds = 0
        while True:
            rounds += 1
            if rounds > 1:
                records = inputs.read()
            if view.truth is not None:
                view = facts.into(view)
                facts.look_up(client, plan.image, digests_to_look_up(records, view), pool)
            view = facts.into(view)
            report = judge_running(records, view, pins, rounds=rounds)
            remaining = deadline - clock()
            if converged(report) or not _may_change(report, view) or remaining <= 0:
                return report
            if on_round is not None:  # only when another round follows
                on_round(rounds, report)
            sleep(min(plan.interval, remaining))


__all__ = [
    "Facts",
    "Inputs",
    "RunningPlan",
    "cp_pins",
    "pin_file_pins",
    "read_truth",
    "run_running",
]

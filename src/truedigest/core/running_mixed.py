"""`mixed`: one workload runs more than one image (a rollout that has not converged).

A workload is the controller owner (a ReplicaSet with its pod-template-hash is its
Deployment), compose service, or else the same container name in a namespace.
Rows equivalent to the truth share one class; other digests form one class per
image (an index and its child are one image). Two classes or more: one extra row
naming the pods on each.
"""

from __future__ import annotations

from collections.abc import Sequence

from truedigest.core.running_relate import EQUIVALENT, relate
from truedigest.model.running_state import (
    ContainerRow,
    RegistryView,
    RowStatus,
    RunningRecord,
    RunningRelation,
)
from truedigest.oci.digest import Digest

R = RunningRelation


def mixed_rows(
    records: Sequence[RunningRecord], rows: Sequence[ContainerRow], view: RegistryView
) -> list[ContainerRow]:
    groups: dict[tuple[str | None, str | None, str | None], list[ContainerRow]] = {}
    for rec, row in zip(records, rows, strict=True):
        if row.status in (RowStatus.SKIPPED,) or row.digest is None or rec.error is not None:
            continue
        if row.relation is R.UNTRACEABLE and row.status is not RowStatus.MISMATCH:
            continue
        groups.setdefault((rec.namespace, rec.workload, rec.container), []).append(row)
    out = []
    for (namespace, workload, container), members in groups.items():
        classes = _classes(members, view)
        if len(classes) < 2:
            continue
        parts = [f"{label} on {', '.join(who)}" for label, who in classes.items()]
        name = workload or f"container {container}"
        pods: dict[str, list[str]] = {}
        for row in members:
            pods.setdefault(str(row.digest), []).append(row.pod or row.container or "?")
        out.append(
            ContainerRow(
                pod=None,
                namespace=namespace,
                workload=workload,
                container=container,
                image=None,
                digest=None,
                status=RowStatus.MISMATCH,
                relation=R.MIXED,
                detail=f"{name} runs {len(classes)} images: {'; '.join(parts)}",
                where="workload",
                pods={k: tuple(v) for k, v in pods.items()},
            )
        )
    return out


def _classes(members: Sequence[ContainerRow], view: RegistryView) -> dict[str, list[str]]:
    """Label -> pods; rows equivalent to the truth (or, without one, to each other) share one."""
    classes: dict[str, list[str]] = {}
    heads: list[Digest] = []
    for row in members:
        if row.digest is None:
            continue
        if view.truth is not None and row.relation in EQUIVALENT:
            label = f"{view.reference} ({view.truth.short})"
        else:
            head = next((h for h in heads if _same(row.digest, h, view)), None)
            if head is None:
                heads.append(row.digest)
                head = row.digest
            label = head.short if row.relation is None else f"{head.short} ({row.relation})"
        classes.setdefault(label, []).append(row.pod or row.container or "?")
    return classes


def _same(a: Digest, b: Digest, view: RegistryView) -> bool:
    link = relate(a, b, view)
    return link is not None and link.relation in EQUIVALENT


__all__ = ["mixed_rows"]

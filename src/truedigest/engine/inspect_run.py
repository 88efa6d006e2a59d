"""`inspect`: what an image is made of, read from the registry.

Fetches concurrently on a bounded pool (the client bounds requests per host). A
part that cannot be read (a dangling child, a config missing or with a malformed
descriptor, referrers) is data on the `Inspection`, not an exception: the caller
prints what was found and exits 3.
Only the top-level object missing raises `NotFoundError` (exit 10). The facts
themselves are read by `truedigest.core.facts`.
"""

from __future__ import annotations

from concurrent.futures import Future

from truedigest.core.facts import (
    ChildNode,
    Inspection,
    ManifestFacts,
    has_image_config,
    manifest_facts,
)
from truedigest.engine.workpool import error_of, fetch_pool, outcome
from truedigest.oci.manifest import Descriptor
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient


def inspect(client: RegistryClient, ref: ImageRef, *, workers: int | None = None) -> Inspection:
    """Index → children → config/layers, plus referrers of the top and of each image child.

    Requests: 1 for the top manifest, then concurrently: per child its manifest
    (+ its config unless it is an attestation), the referrers of the top digest
    and of each non-attestation child (API, then the `sha256-<hex>` tag). A
    single manifest costs its config and its referrers.
    Raises NotFoundError when `ref` itself is not served.
    """
    top = client.get_manifest(ref)
    errors: list[str] = []
    with fetch_pool(client, workers) as pool:
        top_referrers = pool.submit(client.referrers, ref, top.digest)
        if not top.is_index:
            config = None
            if has_image_config(top):
                pending = pool.submit(client.get_config, ref, top)
                config = outcome(pending, errors, f"config of {top.digest}")
            facts = manifest_facts(top, config)
            children: tuple[ChildNode, ...] = ()
        else:
            facts = manifest_facts(top)
            descriptors = top.children
            fetched = [pool.submit(_child_facts, client, ref, d) for d in descriptors]
            child_referrers: list[Future[list[Descriptor]] | None] = [
                None if d.is_attestation else pool.submit(client.referrers, ref, d.digest)
                for d in descriptors
            ]
            nodes = []
            for desc, fut, rfut in zip(descriptors, fetched, child_referrers, strict=True):
                error = error_of(fut)
                child_facts = fut.result() if error is None else None
                refs: list[Descriptor] = []
                if rfut is not None:
                    refs = outcome(rfut, errors, f"referrers of {desc.digest}") or []
                if error is not None:
                    errors.append(f"child {desc.digest}: {error}")
                problems = child_facts.problems if child_facts is not None else ()
                errors.extend(f"child {desc.digest}: {p}" for p in problems)
                nodes.append(ChildNode(desc, child_facts, tuple(refs), error))
            children = tuple(nodes)
        referrers = outcome(top_referrers, errors, f"referrers of {top.digest}") or []
    # a part of the top manifest that cannot be read: the rest is printed, exit 3
    errors[:0] = facts.problems
    return Inspection(ref, facts, children, tuple(referrers), tuple(errors))


def _child_facts(client: RegistryClient, ref: ImageRef, desc: Descriptor) -> ManifestFacts:
    manifest = client.get_manifest(ref, desc.digest)
    config = None
    if not desc.is_attestation and has_image_config(manifest):
        config = client.get_config(ref, manifest)
    return manifest_facts(manifest, config)


__all__ = ["inspect"]

"""`inspect`: what an image is made of, read from the registry.

Fetches concurrently on a bounded pool (the client bounds requests per host). A
part that cannot be read (a dangling child, a config missing or with a malformed
descriptor, referrers) is data on the `Inspection`, not an exception: the caller
prints what was found and exits 3.
Only the top-level object missing raises `NotFoundError` (exit 10). The facts
themselves are read by `truedigest.core.facts`.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor

from truedigest.core.facts import (
    PREDICATE_TYPE_KEY,
    ChildNode,
    CosignTag,
    Inspection,
    ManifestFacts,
    has_image_config,
    manifest_facts,
)
from truedigest.core.revision import (
    Revision,
    RevisionSource,
    from_statement,
    is_provenance,
    load_statement,
    statement_subjects,
)
from truedigest.engine.identity_run import PROVENANCE_CAP
from truedigest.engine.workpool import error_of, fetch_pool, outcome
from truedigest.errors import NotFoundError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Descriptor, Manifest
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient


def inspect(client: RegistryClient, ref: ImageRef, *, workers: int | None = None) -> Inspection:
    """Index → children → config/layers, plus referrers of the top and of each image child.

    Requests: 1 for the top manifest, then concurrently: per child its manifest
    (+ its config unless it is an attestation), the referrers of the top digest
    and of each non-attestation child (API, then the `sha256-<hex>` tag), cosign's
    `sha256-<hex>.sig` and `.att` tags of the same digests (two GETs each), and the
    in-toto layer of each provenance attestation child (its statement's subject and
    commit). A single manifest costs its config, its referrers and its cosign tags.
    Raises NotFoundError when `ref` itself is not served.
    """
    top = client.get_manifest(ref)
    errors: list[str] = []
    with fetch_pool(client, workers) as pool:
        top_referrers = pool.submit(client.referrers, ref, top.digest)
        top_cosign = pool.submit(cosign_tags, client, ref, top.digest)
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
            fetched = [pool.submit(_child_read, client, ref, d) for d in descriptors]
            child_referrers: list[Future[list[Descriptor]] | None] = [
                None if d.is_attestation else pool.submit(client.referrers, ref, d.digest)
                for d in descriptors
            ]
            child_cosign: list[Future[tuple[CosignTag, ...]] | None] = [
                None if d.is_attestation else pool.submit(cosign_tags, client, ref, d.digest)
                for d in descriptors
            ]
            nodes = []
            for desc, fut, rfut, cfut in zip(
                descriptors, fetched, child_referrers, child_cosign, strict=True
            ):
                error = error_of(fut)
                read = fut.result() if error is None else None
                child_facts = read[0] if read is not None else None
                refs: list[Descriptor] = []
                if rfut is not None:
                    refs = outcome(rfut, errors, f"referrers of {desc.digest}") or []
                signed: tuple[CosignTag, ...] = ()
                if cfut is not None:
                    signed = outcome(cfut, errors, f"cosign tags of {desc.digest}") or ()
                if error is not None:
                    errors.append(f"child {desc.digest}: {error}")
                problems = child_facts.problems if child_facts is not None else ()
                errors.extend(f"child {desc.digest}: {p}" for p in problems)
                nodes.append(ChildNode(desc, child_facts, tuple(refs), error, cosign=signed))
            manifests = {
                d.digest: f.result()[1]
                for d, f in zip(descriptors, fetched, strict=True)
                if d.is_attestation and error_of(f) is None
            }
            children = _with_provenance(client, ref, pool, tuple(nodes), manifests, errors)
        referrers = outcome(top_referrers, errors, f"referrers of {top.digest}") or []
        cosign = outcome(top_cosign, errors, f"cosign tags of {top.digest}") or ()
    # a part of the top manifest that cannot be read: the rest is printed, exit 3
    errors[:0] = facts.problems
    return Inspection(ref, facts, children, tuple(referrers), tuple(errors), cosign)


COSIGN_SUFFIXES = ((".sig", "signature"), (".att", "attestation"))


def cosign_tags(client: RegistryClient, ref: ImageRef, digest: Digest) -> tuple[CosignTag, ...]:
    """cosign's `sha256-<hex>.sig` and `.att` tags of `digest` that the registry serves."""
    found = []
    for suffix, kind in COSIGN_SUFFIXES:
        tag = f"{digest.encoded_tag}{suffix}"
        try:
            manifest = client.get_manifest(ref, tag)
        except NotFoundError:
            continue
        found.append(CosignTag(tag, manifest.digest, kind))
    return tuple(found)


def _child_read(
    client: RegistryClient, ref: ImageRef, desc: Descriptor
) -> tuple[ManifestFacts, Manifest]:
    manifest = client.get_manifest(ref, desc.digest)
    config = None
    if not desc.is_attestation and has_image_config(manifest):
        config = client.get_config(ref, manifest)
    return manifest_facts(manifest, config), manifest


Statement = tuple[tuple[Digest, ...], Revision | None]


def read_statement(client: RegistryClient, ref: ImageRef, manifest: Manifest) -> Statement:
    """Subjects and commit of the attestation's provenance statement(s)."""
    subjects: list[Digest] = []
    revision: Revision | None = None
    for layer in manifest.layers:
        if not is_provenance(layer.annotations.get(PREDICATE_TYPE_KEY, "")):
            continue
        data = client.get_blob(ref, layer.digest, cap=PROVENANCE_CAP, kind="provenance attestation")
        statement = load_statement(data)
        if statement is None:
            continue
        subjects.extend(statement_subjects(statement))
        revision = revision or from_statement(statement)
    return tuple(dict.fromkeys(subjects)), revision


def _with_provenance(
    client: RegistryClient,
    ref: ImageRef,
    pool: ThreadPoolExecutor,
    nodes: tuple[ChildNode, ...],
    manifests: dict[Digest, Manifest],
    errors: list[str],
) -> tuple[ChildNode, ...]:
    """Each provenance attestation's statement subjects; and, for an image child that
    records no revision itself, the commit its attached provenance names."""
    wanted = {
        digest: pool.submit(read_statement, client, ref, manifest)
        for digest, manifest in manifests.items()
        if any(
            is_provenance(layer.annotations.get(PREDICATE_TYPE_KEY, ""))
            for layer in manifest.layers
        )
    }
    read: dict[Digest, Statement] = {}
    for digest, fut in wanted.items():
        found = outcome(fut, errors, f"provenance of {digest}")
        if found is not None:
            read[digest] = found
    commits: dict[Digest, Revision] = {}
    out: list[ChildNode] = []
    for node in nodes:
        if node.digest in read:
            subjects, revision = read[node.digest]
            node = dataclasses.replace(node, statement_subjects=subjects)
            if revision is not None and node.attests is not None:
                commits.setdefault(node.attests, revision)
        out.append(node)
    for i, node in enumerate(out):
        facts = node.facts
        found_commit = commits.get(node.digest)
        if node.attestation or facts is None or facts.revision or found_commit is None:
            continue
        out[i] = dataclasses.replace(
            node,
            facts=dataclasses.replace(
                facts, revision=found_commit.commit, revision_source=RevisionSource.PROVENANCE
            ),
        )
    return tuple(out)


__all__ = ["Statement", "cosign_tags", "inspect", "read_statement"]

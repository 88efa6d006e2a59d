"""How the commands build their registry client, and the run's client session.

`Wiring` is the one seam: a caller (a test, an embedding program) passes its own
as click's `obj` (`CliRunner().invoke(cli, args, obj=Wiring(registry_client=…))`)
to run every command on a client it built, e.g. on an `httpx.MockTransport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from truedigest.cli import talk

if TYPE_CHECKING:
    from truedigest.cp.client import CPTarget
    from truedigest.oci.reference import ImageRef
    from truedigest.oci.registry import RegistryClient
    from truedigest.oci.transport import ClientOptions


def default_registry_client(options: ClientOptions, **kwargs: Any) -> RegistryClient:
    from truedigest.oci.registry import RegistryClient

    return RegistryClient(options, **kwargs)


class Wiring(NamedTuple):
    """What the commands build on: `registry_client(options, **kwargs)` makes the client
    (kwargs: `max_per_host`, from `--concurrency` of `tags`, `pins` and `whatis`)."""

    registry_client: Callable[..., RegistryClient] = default_registry_client


def _wiring() -> Wiring:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Wiring) if ctx is not None else None
    return obj if obj is not None else Wiring()


@contextmanager
def session(
    options: ClientOptions, refs: Sequence[ImageRef | None], **kwargs: Any
) -> Iterator[RegistryClient]:
    """The run's client; with -v, its request counts are printed even when it failed.

    `refs` are the references the user typed: without TRUEDIGEST_REGISTRY_HOST, the
    env credentials go only to their registries (never to a host a CP row or a pin
    file names)."""
    client = _wiring().registry_client(options, **kwargs)
    client.restrict_env_credentials(r.registry for r in refs if r is not None)
    try:
        yield client
    except BaseException:
        talk.defer(_requests_line(client))  # printed after the error line
        raise
    else:
        if talk.verbosity() >= 1:
            talk.say(_requests_line(client))
    finally:
        client.close()


def _requests_line(client: RegistryClient) -> str:
    stats = client.transport.stats.by_host
    detail = ", ".join(f"{host}: {n}" for host, n in sorted(stats.items()))
    return f"requests: {client.requests_made} ({detail})"


def cp_targets(cps: Sequence[str], cp_token_envs: Sequence[str], cp_path: str) -> list[CPTarget]:
    """The CPs of `--cp NAME=URL`, each with its token from `--cp-token-env NAME=VAR`."""
    from truedigest.cp.client import build_targets, parse_cp_option, parse_token_env_option

    return build_targets(
        [parse_cp_option(v) for v in cps],
        [parse_token_env_option(v) for v in cp_token_envs],
        cp_path,
    )


__all__ = ["Wiring", "cp_targets", "default_registry_client", "session"]

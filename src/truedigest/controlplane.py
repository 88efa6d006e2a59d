"""CPClient: read a control plane's runtime-image pin table (DESIGN §5). Read-only."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from truedigest import jsonutil
from truedigest.errors import ControlPlaneError, UsageError
from truedigest.transport import Secret, Transport, redact_url

DEFAULT_CP_PATH = "/cp/admin/runtime-image"
DEFAULT_TOKEN_ENV = "CP_ADMIN_API_TOKEN"  # noqa: S105 - a variable name, not a secret
PIN_BODY_CAP = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CPTarget:
    """One control plane: `--cp NAME=URL` plus the env var holding its token."""

    name: str
    url: str
    token_env: str = DEFAULT_TOKEN_ENV
    path: str = DEFAULT_CP_PATH

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/" + self.path.lstrip("/")


@dataclass(frozen=True, slots=True)
class PinTable:
    target: CPTarget
    rows: tuple[dict[str, Any], ...] = field(repr=False)


def parse_cp_option(text: str) -> tuple[str, str]:
    """`NAME=URL` → (name, url); the URL must be http(s) with a host."""
    name, sep, url = text.partition("=")
    name, url = name.strip(), url.strip()
    if not sep or not name or not url:
        raise UsageError(
            f"--cp {_redact(text)!r}: expected NAME=URL",
            hint="e.g. --cp prod=https://cp.example.com",
        )
    if not all(c.isalnum() or c in "-_." for c in name):
        raise UsageError(f"--cp {_redact(text)!r}: NAME may hold letters, digits, '-', '_' and '.'")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UsageError(f"--cp {name}: {_redact(url)!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(
            f"--cp {name}: {_redact(url)!r} is not an http(s) URL",
            hint="e.g. --cp prod=https://cp.example.com",
        )
    if parsed.username or parsed.password:
        raise UsageError(
            f"--cp {name}: the URL carries credentials",
            hint="put the token in an environment variable named by --cp-token-env",
        )
    if parsed.query or parsed.fragment:
        # The pin path is appended to the URL: a query would swallow it, and it may
        # hold a token that every report would then echo.
        raise UsageError(
            f"--cp {name}: the URL carries a query or fragment",
            hint="give the CP's base URL (scheme, host, optional path prefix); "
            "use --cp-path for another pin path and --cp-token-env for the token",
        )
    return name, url


_USERINFO = re.compile(r"(?<=//)[^/?#@\s]*@")


def _redact(text: str) -> str:
    """A --cp value fit to print: no user:password@, no query (either may hold a secret)."""
    return _USERINFO.sub("***@", text).split("?", 1)[0].split("#", 1)[0]


def parse_token_env_option(text: str) -> tuple[str, str]:
    """`NAME=VAR` → (name, var)."""
    name, sep, var = text.partition("=")
    name, var = name.strip(), var.strip()
    if not sep or not name or not var or not var.replace("_", "a").isalnum():
        raise UsageError(
            f"--cp-token-env {text!r}: expected NAME=ENV_VAR",
            hint="the token itself never goes on the command line; name the variable holding it",
        )
    return name, var


def build_targets(
    cps: list[tuple[str, str]], token_envs: list[tuple[str, str]], path: str
) -> list[CPTarget]:
    names = [n for n, _ in cps]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise UsageError(f"--cp names must be unique; repeated: {', '.join(sorted(dupes))}")
    env_by_name = dict(token_envs)
    unknown = sorted(set(env_by_name) - set(names))
    if unknown:
        raise UsageError(f"--cp-token-env names a CP that no --cp defines: {', '.join(unknown)}")
    return [CPTarget(n, u, env_by_name.get(n, DEFAULT_TOKEN_ENV), path) for n, u in cps]


class CPClient:
    def __init__(self, transport: Transport, env: Mapping[str, str] | None = None) -> None:
        self.transport = transport
        self.env = os.environ if env is None else env

    def token_for(self, target: CPTarget) -> Secret:
        value = self.env.get(target.token_env, "")
        if not value.strip():
            raise ControlPlaneError(
                f"CP {target.name}: the token variable {target.token_env} is not set",
                hint=f"export {target.token_env}, or name another with --cp-token-env "
                f"{target.name}=VAR",
            )
        return Secret(value.strip())

    def fetch(self, target: CPTarget) -> PinTable:
        """GET the pin table; every failure shape becomes a ControlPlaneError (exit 3)."""
        token = self.token_for(target)
        where = f"CP {target.name} ({redact_url(httpx.URL(target.endpoint))})"
        resp = self.transport.request(
            "GET",
            target.endpoint,
            headers={"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"},
            cap=PIN_BODY_CAP,
            follow=False,
            what=where,
        )
        if resp.status in (401, 403):
            raise ControlPlaneError(
                f"{where} answered HTTP {resp.status}: the token from {target.token_env} "
                "was refused",
                hint=f"check that {target.token_env} holds a valid admin token for {target.name}",
            )
        if resp.status != 200:
            extra = ""
            if 300 <= resp.status < 400:
                extra = " (a redirect: the URL or path is probably wrong, or a login page)"
            raise ControlPlaneError(
                f"{where} answered HTTP {resp.status}{extra}",
                hint="only 200 is success; check --cp URL and --cp-path",
            )
        if not resp.body.strip():
            raise ControlPlaneError(
                f"{where} answered 200 with an empty body",
                hint="the CP may be mid-deploy or behind a proxy that swallows bodies",
            )
        try:
            data = jsonutil.loads(resp.body)
        except ValueError:
            kind = resp.headers.get("content-type", "unknown").split(";")[0]
            raise ControlPlaneError(
                f"{where} answered 200 with a body that is not JSON ({kind})",
                hint="a login page or proxy error page answered instead of the CP API",
            ) from None
        rows = _rows_of(data, where)
        return PinTable(target, tuple(rows))


def _rows_of(data: object, where: str) -> list[dict[str, Any]]:
    if isinstance(data, list):
        items: object = data
    elif isinstance(data, dict):
        for key in ("pins", "data", "items"):
            if key in data:
                items = data[key]
                break
        else:
            raise ControlPlaneError(
                f"{where}: the JSON has none of the keys pins, data, items",
                hint='expected {"pins": [row, …]} (DESIGN §5)',
            )
    else:
        raise ControlPlaneError(f"{where}: the JSON is neither an object nor a list")
    if not isinstance(items, list):
        raise ControlPlaneError(
            f"{where}: 'pins' is a {type(items).__name__}, not a list",
            hint='expected {"pins": [row, …]} (DESIGN §5)',
        )
    bad = [i for i, row in enumerate(items) if not isinstance(row, dict)]
    if bad:
        raise ControlPlaneError(f"{where}: pin row {bad[0]} is not a JSON object")
    return list(items)


def row_region(row: Mapping[str, Any]) -> str:
    region = row.get("region")
    return region if isinstance(region, str) and region else "global"


def select_rows(
    rows: tuple[dict[str, Any], ...], template: str, region: str
) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("template_name") == template and row_region(r) == region]

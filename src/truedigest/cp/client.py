"""CPClient: read a control plane's runtime-image pin table (docs/control-plane.md).

Read-only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from truedigest.base import jsonutil
from truedigest.errors import BodyTooLargeError, ControlPlaneError, CPTokenError, UsageError
from truedigest.oci.httpconfig import Limit
from truedigest.oci.secret import Secret
from truedigest.oci.transport import Transport, parse_url, redact_url

DEFAULT_CP_PATH = "/cp/admin/runtime-image"
DEFAULT_TOKEN_ENV = "CP_ADMIN_API_TOKEN"  # noqa: S105 - a variable name, not a secret
PIN_BODY_CAP = 32 * 1024 * 1024
"""A CP pin table (the decoded body) larger than this is refused (exit 3)."""
PIN_TABLE_LIMIT = Limit("CP pin table", PIN_BODY_CAP)


class CPTarget(NamedTuple):
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
        parsed = parse_url(url)
    except ValueError:
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
    cps: list[tuple[str, str]],
    token_envs: list[tuple[str, str]],
    path: str,
    *,
    env: Mapping[str, str] | None = None,
) -> list[CPTarget]:
    """The CP targets of the command line; a token variable that is set but cannot be a
    token (a pasted smart quote, a control character) is a usage error naming the
    variable, before any request. An unset variable is left to `fetch` (that CP could
    not be checked: exit 3)."""
    names = [n for n, _ in cps]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise UsageError(f"--cp names must be unique; repeated: {', '.join(sorted(dupes))}")
    env_by_name = dict(token_envs)
    unknown = sorted(set(env_by_name) - set(names))
    if unknown:
        raise UsageError(f"--cp-token-env names a CP that no --cp defines: {', '.join(unknown)}")
    targets = [CPTarget(n, u, env_by_name.get(n, DEFAULT_TOKEN_ENV), path) for n, u in cps]
    values = os.environ if env is None else env
    for target in targets:
        value = values.get(target.token_env, "")
        if value.strip():
            check_token(target, value)
    return targets


def check_token(target: CPTarget, value: str) -> Secret:
    """`value` (from `target.token_env`) as a Secret, or CPTokenError (exit 2) naming the
    variable and the position of the first character a bearer token cannot hold —
    never the value itself. Surrounding whitespace (a trailing newline) is dropped."""
    token = value.strip()
    # Checked before it becomes a Secret: a refused value is never sent nor printed, and
    # redaction's encodings of it (base64, URL-quoting) would fail on a lone surrogate.
    for position, char in enumerate(token, start=1):
        if "!" <= char <= "~":
            continue
        if char.isspace():
            kind = "whitespace"
        elif not char.isascii():
            kind = "a non-ASCII character (a pasted smart quote?)"
        else:
            kind = "a control character"
        raise CPTokenError(
            f"CP {target.name}: the token in {target.token_env} holds {kind} at position "
            f"{position}; a bearer token is printable ASCII",
            hint=f"re-copy the token into {target.token_env} as plain text",
        )
    return Secret(token)


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
        return check_token(target, value)

    def fetch(self, target: CPTarget) -> PinTable:
        """GET the pin table; every failure shape becomes a ControlPlaneError (exit 3)."""
        token = self.token_for(target)
        where = f"CP {target.name} ({redact_url(target.endpoint)})"
        try:
            resp = self.transport.request(
                "GET",
                target.endpoint,
                headers={
                    "Authorization": f"Bearer {token.reveal()}",
                    "Accept": "application/json",
                },
                limit=PIN_TABLE_LIMIT,
                follow=False,
                what=where,
            )
        except BodyTooLargeError as exc:
            raise ControlPlaneError(
                exc.message,
                hint="a pin table is a few KiB; check --cp URL and --cp-path "
                "(this is not the runtime-image endpoint, or the CP is misbehaving)",
            ) from None
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
        except ValueError as exc:
            kind = resp.headers.get("content-type", "unknown").split(";")[0]
            reason = str(exc) if str(exc).startswith("JSON ") else "malformed JSON"
            raise ControlPlaneError(
                f"{where} answered 200 with a body that is not JSON ({kind}: {reason})",
                hint="a login page or proxy error page answered instead of the CP API, "
                "or the CP wrote NaN, Infinity or an out-of-range number",
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
                hint='expected {"pins": [row, …]} (see docs/control-plane.md)',
            )
    else:
        raise ControlPlaneError(f"{where}: the JSON is neither an object nor a list")
    if not isinstance(items, list):
        raise ControlPlaneError(
            f"{where}: 'pins' is a {type(items).__name__}, not a list",
            hint='expected {"pins": [row, …]} (see docs/control-plane.md)',
        )
    bad = [i for i, row in enumerate(items) if not isinstance(row, dict)]
    if bad:
        raise ControlPlaneError(f"{where}: pin row {bad[0]} is not a JSON object")
    return list(items)


# -- row fields: every one has a type; a wrong type makes the row malformed -----------

REQUIRED_TEXT = ("template_name", "image_digest")
"""Fields every row has, as non-empty strings."""
OPTIONAL_TEXT = ("region", "image_ref")
"""Fields that are non-empty strings when present (absent region means "global"); never null."""
NULLABLE_TEXT = ("git_sha", "promoted_at", "promoted_by", "notes")
"""Fields that are strings, null or absent."""
ROW_FIELDS = (*REQUIRED_TEXT, *OPTIONAL_TEXT, *NULLABLE_TEXT)
_SHOWN = 60


def show_value(value: object) -> str:
    """A field's value fit for a one-line message: JSON-like, ASCII, clipped."""
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = ascii(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def json_type(value: object) -> str:
    """The JSON name of a value's type, with an article: "a number", "null"."""
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
        case _:
            return f"a {type(value).__name__}"


def _is_text(value: str) -> bool:
    """True for text that is valid Unicode (no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def field_problem(row: Mapping[str, Any], key: str) -> str | None:
    """What is wrong with the type of one row field, or None."""
    present = key in row
    value = row.get(key)
    if not present:
        return f"the row has no {key}" if key in REQUIRED_TEXT else None
    if value is None:
        return None if key in NULLABLE_TEXT else f"{key} is null, not a string"
    if not isinstance(value, str):
        return f"{key} is {json_type(value)} ({show_value(value)}), not a string"
    if not _is_text(value):
        return f"{key} {show_value(value)} is not valid Unicode text"
    if not value and key not in NULLABLE_TEXT:
        return f"{key} is an empty string"
    return None


def row_problems(row: Mapping[str, Any]) -> list[str]:
    """Every field of `row` whose type is wrong (empty when the row is well-typed).

    A malformed row is never coerced (`region: 7` is not "global") and never matched:
    callers report it as a broken pin (docs/control-plane.md, "What truedigest checks")."""
    return [problem for key in ROW_FIELDS if (problem := field_problem(row, key)) is not None]


def row_region(row: Mapping[str, Any]) -> str:
    """The row's region: its string, "global" when absent, a marked display form when
    its type is wrong (so it never equals a real region)."""
    if "region" not in row:
        return "global"
    region = row["region"]
    if isinstance(region, str) and region and _is_text(region):
        return region
    return f"<malformed: {show_value(region)}>"


def select_rows(
    rows: tuple[dict[str, Any], ...], template: str, region: str
) -> list[dict[str, Any]]:
    """The well-typed rows for (template, region)."""
    return [
        r
        for r in rows
        if r.get("template_name") == template and row_region(r) == region and not row_problems(r)
    ]


def malformed_rows(
    rows: tuple[dict[str, Any], ...], template: str
) -> list[tuple[int, dict[str, Any], list[str]]]:
    """(position, row, problems) of each malformed row that may be `template`'s: its
    template_name is `template`, or is no usable string (then nobody can tell whose it is)."""
    out = []
    for position, row in enumerate(rows):
        problems = row_problems(row)
        if not problems:
            continue
        name = row.get("template_name")
        if name == template or not isinstance(name, str) or not name or not _is_text(name):
            out.append((position, row, problems))
    return out

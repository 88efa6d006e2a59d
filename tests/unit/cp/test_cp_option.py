"""`--cp NAME=URL` parsing: the URL is parsed by the transport's `parse_url`, and every
malformed or unsafe URL is a usage error (exit 2) that never echoes a secret."""

from __future__ import annotations

import pytest

from truedigest.cp.client import parse_cp_option
from truedigest.errors import ExitCode, UsageError

SECRET = "pw-7f3a9c"


def test_a_good_url_is_kept_as_given() -> None:
    assert parse_cp_option(" prod = https://cp.example/base ") == (
        "prod",
        "https://cp.example/base",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://cp.example:x/", "is not a URL"),  # httpx: InvalidURL (invalid port)
        ("https://cp.example/\x00", "is not a URL"),  # a NUL
        ("https://cp\u3000example/", "is not a URL"),  # an IDNA-invalid host
        ("http://[::1/", "is not a URL"),  # an unclosed IPv6 literal
        ("ftp://cp.example/", "is not an http(s) URL"),
        (f"https://admin:{SECRET}@cp.example/", "carries credentials"),
        (f"https://cp.example/?token={SECRET}", "carries a query or fragment"),
    ],
)
def test_a_bad_url_is_a_usage_error_without_the_secret(url: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cp_option(f"prod={url}")
    assert message in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE
    assert SECRET not in caught.value.message
    assert SECRET not in (caught.value.hint or "")

"""`jsonutil.loads` keeps one decoder for the run: it must read exactly what
`json.loads` with the same hooks reads (the oracle), from bytes or text, and stay
correct with many threads decoding at once (the hooks run Python code, so a thread
can switch in the middle of another's decode)."""

from __future__ import annotations

import json
import threading
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from truedigest.base import jsonutil


def _oracle(data: bytes | str) -> tuple[str, Any]:
    try:
        value = json.loads(
            data,
            parse_constant=jsonutil._constant,
            parse_float=jsonutil._float,
            parse_int=jsonutil._int,
        )
    except RecursionError:
        return ("error", None)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return ("error", None)
    return ("value", value)


def _mine(data: bytes | str) -> tuple[str, Any]:
    try:
        return ("value", jsonutil.loads(data))
    except ValueError:
        return ("error", None)


JSONISH = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40),
    st.builds(
        lambda s, enc: s.encode(enc),
        st.text(max_size=20),
        st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
@example(b'\xef\xbb\xbf{"a": 1}')
@example('\ufeff{"a": 1}')
@example('{"a": [1, 2.5, "x", null, true]}'.encode("utf-16"))
@example(b"NaN")
@example(b"1" * 30)
def test_loads_reads_what_json_loads_reads(data: bytes | str) -> None:
    assert _mine(data) == _oracle(data)


def test_threads_decoding_at_once_each_get_their_own_document() -> None:
    docs = [
        json.dumps({"n": i, "sizes": list(range(i % 7)), f"k{i}": [{"d": str(i)}] * 3}).encode()
        for i in range(64)
    ]
    start = threading.Barrier(8)
    wrong: list[int] = []

    def work(offset: int) -> None:
        start.wait()
        for round_ in range(200):
            i = (offset * 8 + round_) % len(docs)
            if jsonutil.loads(docs[i]) != json.loads(docs[i]):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []

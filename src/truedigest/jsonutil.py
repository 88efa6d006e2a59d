"""One JSON reader for everything that arrives from outside (servers, files).

`json.loads` raises RecursionError, not ValueError, on deeply nested input (about
100k `[`): a hostile or broken server must not turn that into a traceback.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: bytes | str) -> Any:
    """Parse JSON; every failure is a ValueError (callers map it to their own error)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"JSON is not UTF-8: {exc.reason}") from None

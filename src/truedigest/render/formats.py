"""The output formats a command may print its result in."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """`-o/--output`: each command accepts a subset (`text` and `table` stand for each other)."""

    TEXT = "text"
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


__all__ = ["OutputFormat"]

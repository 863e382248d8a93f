"""The characters client strings may hold before they reach a database.

Postgres refuses NUL in `text` and `jsonb` and SQLite's JSON paths stop at it, so free text
(queries, chunks, their metadata) is refused only that. Names and keys need no control
character; short values (attributes, filter values, metadata) keep tab, line feed and
carriage return.
"""

from __future__ import annotations

import re
from typing import Any

from stackmesh_common.errors import InvalidArgument

_IN_NAMES = re.compile(r"[\x00-\x1f\x7f]")
_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _refuse(found: re.Match[str], allowed: str, param: str, label: str | None) -> InvalidArgument:
    return InvalidArgument(
        f"{label or f'`{param}`'} must not contain control characters{allowed}:"
        f" found U+{ord(found.group()):04X} at index {found.start()}",
        param=param,
    )


def check_name(value: str, param: str, label: str | None = None) -> str:
    """A name or key: no control characters at all. `label` names it in the message (`param` by default)."""
    if found := _IN_NAMES.search(value):
        raise _refuse(found, "", param, label)
    return value


def check_value(value: str, param: str) -> str:
    """A short value: no control characters but tab, line feed and carriage return."""
    if found := _IN_TEXT.search(value):
        raise _refuse(found, " other than tab, line feed and carriage return", param, None)
    return value


def check_free_text(value: str, param: str) -> str:
    """Text of any kind: no NUL."""
    if (index := value.find("\x00")) >= 0:
        raise InvalidArgument(f"`{param}` must not contain NUL characters: found one at index {index}", param=param)
    return value


def check_free_json(value: Any, param: str) -> Any:
    """A JSON document (dicts, lists, scalars): no NUL in any key or string."""
    if isinstance(value, str):
        check_free_text(value, param)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_free_text(key, param)
            check_free_json(item, f"{param}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_free_json(item, f"{param}[{index}]")
    return value

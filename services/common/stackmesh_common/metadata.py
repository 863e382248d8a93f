"""OpenAI's `metadata`: at most 16 string pairs, keys up to 64 characters, values up to 512."""

from __future__ import annotations

from typing import Mapping

from stackmesh_common.errors import InvalidArgument

MAX_PAIRS = 16
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 512


def check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_PAIRS:
        raise InvalidArgument(f"`metadata` may have at most {MAX_PAIRS} keys, got {len(metadata)}", param="metadata")
    for key, value in metadata.items():
        if len(key) > MAX_KEY_CHARS:
            raise InvalidArgument(f"`metadata` keys may have at most {MAX_KEY_CHARS} characters: {key[:20]!r}…", param="metadata")
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidArgument(f"`metadata.{key}` may have at most {MAX_VALUE_CHARS} characters", param="metadata")
    return dict(metadata)

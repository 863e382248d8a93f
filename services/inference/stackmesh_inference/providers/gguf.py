"""Reads a string value (such as the chat template) from a GGUF file's key-value header,
skipping the rest: gguf.GGUFReader indexes every tensor and takes seconds per model."""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

# GGUF value types: scalar type id -> struct format.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class _Cursor:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.at = 0

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def string(self) -> bytes:
        length = self.unpack("Q")
        self.at += length
        return self.data[self.at - length : self.at]

    def skip(self, value_type: int) -> None:
        if value_type == _STRING:
            self.string()
        elif value_type == _ARRAY:
            item_type, count = self.unpack("I"), self.unpack("Q")
            if item_type in _SCALARS:
                self.at += count * struct.calcsize(_SCALARS[item_type])
            else:
                for _ in range(count):
                    self.skip(item_type)
        else:
            self.at += struct.calcsize(_SCALARS[value_type])


def read_string(path: Path, key: str) -> str | None:
    """The string stored under key, or None when the file has no such key."""
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:4] != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        cursor = _Cursor(data)
        cursor.at = 4
        cursor.unpack("I")  # version
        cursor.unpack("Q")  # tensor count
        wanted = key.encode()
        for _ in range(cursor.unpack("Q")):
            name = cursor.string()
            value_type = cursor.unpack("I")
            if name == wanted and value_type == _STRING:
                return cursor.string().decode()
            cursor.skip(value_type)
    return None

"""The Files API's records: metadata in Postgres, bytes in the object store."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_common.paging import FILES, Page, page_limit, sort_order
from stackmesh_vector_io.characters import check_name
from stackmesh_vector_io.db_errors import connection
from stackmesh_vector_io.objects import ObjectStore

log = logging.getLogger("stackmesh.vector_io.files")

PURPOSES = ("assistants", "batch", "batch_output", "fine-tune", "vision", "user_data", "evals")
MIN_EXPIRY_S, MAX_EXPIRY_S = 3600, 30 * 24 * 3600


@dataclass(frozen=True)
class FileRecord:
    id: str
    filename: str
    purpose: str
    bytes: int
    content_type: str
    object_key: str
    owner: str
    created_at: int
    expires_at: int | None


@dataclass(frozen=True)
class NewFile:
    """What an upload says about its file, checked before any byte is stored."""

    filename: str
    purpose: str
    content_type: str
    expires_after_s: int | None


def new_file_id() -> str:
    return f"file-{uuid.uuid4().hex[:24]}"


def check_new_file(filename: str, purpose: str, content_type: str, anchor: str | None, seconds: int | None) -> NewFile:
    if not filename:
        raise InvalidArgument("`file` is required: a file part with a filename", param="file")
    check_name(filename, "file", "the filename of `file`")
    check_name(content_type, "file", "the content type of `file`")
    if purpose not in PURPOSES:
        raise InvalidArgument(f"`purpose` must be one of {', '.join(PURPOSES)}, got {purpose!r}", param="purpose")
    if anchor is None and seconds is None:
        return NewFile(filename, purpose, content_type, None)
    if anchor != "created_at":
        raise InvalidArgument("`expires_after[anchor]` must be `created_at`", param="expires_after.anchor")
    if seconds is None or not MIN_EXPIRY_S <= seconds <= MAX_EXPIRY_S:
        raise InvalidArgument(
            f"`expires_after[seconds]` must be between {MIN_EXPIRY_S} and {MAX_EXPIRY_S}", param="expires_after.seconds"
        )
    return NewFile(filename, purpose, content_type, seconds)


_COLUMNS = "id, filename, purpose, bytes, content_type, object_key, owner, created_at, expires_at"
# A file past its expiry is gone for callers even before the sweeper deletes it.
_LIVE = "(expires_at IS NULL OR expires_at > %s)"


def _visible(action: Action | None) -> tuple[str, list[Any]]:
    """The rows the caller may do `action` to (all of them without an action: internal reads),
    with the live condition first; its arguments start with the time now."""
    if action is None:
        return _LIVE, [int(time.time())]
    condition, args = access.sql_filter(action)
    return f"{_LIVE} AND {condition}", [int(time.time()), *args]


def _not_found(file_id: str) -> NotFound:
    # The same answer for a file the caller may not see as for one that does not exist.
    return NotFound(f"file `{file_id}` not found", param="file_id")


class FileRepository:
    def __init__(self, pool: AsyncConnectionPool, objects: ObjectStore) -> None:
        self.pool = pool
        self.objects = objects

    async def add(self, file_id: str, new: NewFile, size: int) -> FileRecord:
        """Records an uploaded file as the caller's."""
        now = int(time.time())
        record = FileRecord(
            id=file_id,
            filename=new.filename,
            purpose=new.purpose,
            bytes=size,
            content_type=new.content_type,
            object_key=file_id,
            owner=access.owner(),
            created_at=now,
            expires_at=now + new.expires_after_s if new.expires_after_s else None,
        )
        async with connection(self.pool) as conn:
            await conn.execute(
                f"INSERT INTO files ({_COLUMNS}, owner_attributes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (record.id, record.filename, record.purpose, record.bytes, record.content_type, record.object_key,
                 record.owner, record.created_at, record.expires_at, access.owner_attributes_json()),
            )  # fmt: skip
        return record

    async def get(self, file_id: str, action: Action | None = None) -> FileRecord:
        """The live file; with `action`, only if the caller may do it (else as absent as a
        missing one); without, unchecked (ingestion, which the attach already checked)."""
        condition, args = _visible(action)
        async with connection(self.pool) as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM files WHERE id = %s AND {condition}", (file_id, *args))
            ).fetchone()
        if row is None:
            raise _not_found(file_id)
        return FileRecord(*row)

    async def existing(self, file_ids: list[str], action: Action = Action.READ) -> dict[str, FileRecord]:
        """The live files among `file_ids` the caller may do `action` to, by id."""
        condition, args = _visible(action)
        async with connection(self.pool) as conn:
            rows = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM files WHERE id = ANY(%s) AND {condition}", (file_ids, *args))
            ).fetchall()
        return {row[0]: FileRecord(*row) for row in rows}

    async def list(self, after: str, limit: int | None, order: str, purpose: str) -> Page[FileRecord]:
        """The caller's page of the files it may read."""
        limit = page_limit(limit, FILES)
        order = sort_order(order)
        visible, visible_args = _visible(Action.READ)
        clauses, args = [visible], [*visible_args]
        if purpose:
            clauses.append("purpose = %s")
            args.append(purpose)
        if after:
            # A cursor the caller may not read is as unknown as a missing one.
            readable, readable_args = access.sql_filter(Action.READ)
            async with connection(self.pool) as conn:
                cursor = await (
                    await conn.execute(f"SELECT seq FROM files WHERE id = %s AND {readable}", (after, *readable_args))
                ).fetchone()
            if cursor is None:
                raise InvalidArgument(f"`after` names an unknown file: {after}", param="after")
            clauses.append("seq " + ("<" if order == "desc" else ">") + " %s")
            args.append(cursor[0])
        direction = "DESC" if order == "desc" else "ASC"
        async with connection(self.pool) as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM files WHERE {' AND '.join(clauses)} ORDER BY seq {direction} LIMIT %s",
                    [*args, limit + 1],
                )
            ).fetchall()
        return Page([FileRecord(*row) for row in rows[:limit]], has_more=len(rows) > limit)

    async def delete(self, file_id: str) -> FileRecord:
        """Deletes the record if the caller may, then the bytes (a crash in between leaves
        bytes, never a dangling record)."""
        condition, args = _visible(Action.WRITE)
        async with connection(self.pool) as conn:
            row = await (
                await conn.execute(f"DELETE FROM files WHERE id = %s AND {condition} RETURNING {_COLUMNS}", (file_id, *args))
            ).fetchone()
        if row is None:
            raise _not_found(file_id)
        record = FileRecord(*row)
        await self.objects.delete(record.object_key)
        return record

    async def delete_expired(self) -> list[str]:
        """Deletes files past their expiry; returns their ids."""
        async with connection(self.pool) as conn:
            rows = await (
                await conn.execute("DELETE FROM files WHERE expires_at <= %s RETURNING id, object_key", (int(time.time()),))
            ).fetchall()
        for _, key in rows:
            await self.objects.delete(key)
        return [file_id for file_id, _ in rows]

"""The scored answers of a generation job's dialogs in Postgres, one row per finished dialog."""

from __future__ import annotations

import json
from dataclasses import asdict

from psycopg_pool import AsyncConnectionPool

from stackmesh_post_training.synthetic.filters import Candidate


class SyntheticStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add_dialog(self, job_id: str, dialog_index: int, candidates: list[Candidate]) -> None:
        """A dialog stored by a delivery that died before its ack is left as it is."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO synthetic_dialogs (job_id, dialog_index, candidates) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (job_id, dialog_index, json.dumps([asdict(c) for c in candidates])),
            )

    async def dialogs(self, job_id: str) -> dict[int, list[Candidate]]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute("SELECT dialog_index, candidates FROM synthetic_dialogs WHERE job_id = %s ORDER BY dialog_index", (job_id,))
            ).fetchall()
        return {index: [Candidate(**c) for c in candidates] for index, candidates in rows}

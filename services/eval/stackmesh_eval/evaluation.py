"""Evaluating rows: a candidate's generation, then its scores; and where a job's rows are kept.

One row is the unit of work everywhere: evaluate-rows runs rows concurrently in the request,
an evaluation job runs them in shards on workers and stores each row once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from stackmesh_common.errors import StackmeshError
from stackmesh_eval.candidates import Candidate
from stackmesh_eval.scorer import Scorer, ScoringPlan, scoring_row


@dataclass(frozen=True)
class RowResult:
    index: int
    generation: dict[str, Any]
    scores: dict[str, dict[str, Any]]


async def evaluate_row(
    candidate: Candidate, scorer: Scorer, plans: list[ScoringPlan], row: dict[str, Any], index: int, where: str, *, keep_refusals: bool
) -> RowResult:
    """Generates and scores one row. With `keep_refusals` a refused row (the model's context
    is too short for it, say) is recorded with its error and the job goes on; an outage
    still raises, so the row is tried again."""
    try:
        answer = await candidate.generate(row, index, where)
        scores = await scorer.score_one(plans, scoring_row(row, answer))
    except StackmeshError as exc:
        if not keep_refusals or exc.http_status >= 500:
            raise
        error = exc.message
        return RowResult(index, {"generated_answer": None, "error": error}, {p.id: {"score": None, "error": error} for p in plans})
    return RowResult(index, {"generated_answer": answer}, scores)


class EvalRows:
    """Rows of evaluation jobs; (job, row) is the key, so a row is stored once."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def store(self, job_id: str, results: list[RowResult], attempt: int) -> None:
        """Rows already stored (by a delivery that died before its ack) are left as they are."""
        async with self.pool.connection() as conn, conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO eval_rows (job_id, row_index, generation, scores, attempt) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (job_id, row_index) DO NOTHING",
                [(job_id, r.index, json.dumps(r.generation), json.dumps(r.scores), attempt) for r in results],
            )

    async def done(self, job_id: str, start: int, stop: int) -> set[int]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT row_index FROM eval_rows WHERE job_id = %s AND row_index >= %s AND row_index < %s", (job_id, start, stop)
                )
            ).fetchall()
        return {row[0] for row in rows}

    async def count(self, job_id: str) -> int:
        async with self.pool.connection() as conn:
            (count,) = await (await conn.execute("SELECT count(*) FROM eval_rows WHERE job_id = %s", (job_id,))).fetchone()
        return count

    async def all(self, job_id: str) -> list[RowResult]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute("SELECT row_index, generation, scores FROM eval_rows WHERE job_id = %s ORDER BY row_index", (job_id,))
            ).fetchall()
        return [RowResult(*row) for row in rows]


class RowWriter:
    """Stores a shard's rows in batches, each row at most FLUSH_INTERVAL_S after it is done
    (or at once when FLUSH_ROWS wait): cheap rows (scoring only) cost one insert per batch,
    and a worker that dies loses at most that interval's rows, which its redelivery redoes."""

    FLUSH_INTERVAL_S = 0.2
    FLUSH_ROWS = 256

    def __init__(self, rows: EvalRows, job_id: str, attempt: int) -> None:
        self.rows = rows
        self.job_id = job_id
        self.attempt = attempt
        self.written = 0
        self._pending: list[RowResult] = []
        self._closing = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def add(self, result: RowResult) -> None:
        self._pending.append(result)
        if len(self._pending) >= self.FLUSH_ROWS:
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            await self.rows.store(self.job_id, batch, self.attempt)
            self.written += len(batch)

    async def _flush_often(self) -> None:
        # Stopped by an event, never cancelled: a cancel landing inside an insert could leave
        # its connection (and the shard) hanging.
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.FLUSH_INTERVAL_S)
            await self.flush()

    async def __aenter__(self) -> RowWriter:
        self._flusher = asyncio.create_task(self._flush_often())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # The last flush stores the rows done before a failure or a cancel too.
        self._closing.set()
        await self._flusher

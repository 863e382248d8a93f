"""A job's training steps and checkpoints in Postgres."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True)
class Step:
    step: int
    epoch: int
    loss: float
    learning_rate: float
    tokens_per_s: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredCheckpoint:
    job_id: str
    step: int
    epoch: int
    path: str
    train_loss: float | None
    model_id: str | None
    created_at: datetime


class TrainingStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add_steps(self, job_id: str, steps: list[Step]) -> None:
        """A step redone after a resume replaces the one the dead run reported."""
        async with self.pool.connection() as conn, conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO training_steps (job_id, step, epoch, loss, learning_rate, tokens_per_s, metrics)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (job_id, step) DO UPDATE SET epoch = EXCLUDED.epoch,"
                " loss = EXCLUDED.loss, learning_rate = EXCLUDED.learning_rate, tokens_per_s = EXCLUDED.tokens_per_s,"
                " metrics = EXCLUDED.metrics",
                [(job_id, s.step, s.epoch, s.loss, s.learning_rate, s.tokens_per_s, json.dumps(s.metrics)) for s in steps],
            )

    async def steps(self, job_id: str) -> list[Step]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT step, epoch, loss, learning_rate, tokens_per_s, metrics FROM training_steps WHERE job_id = %s ORDER BY step",
                    (job_id,),
                )
            ).fetchall()
        return [Step(*row) for row in rows]

    async def add_checkpoint(self, job_id: str, step: int, epoch: int, path: str, train_loss: float | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO checkpoints (job_id, step, epoch, path, train_loss) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (job_id, step) DO UPDATE SET path = EXCLUDED.path, train_loss = EXCLUDED.train_loss",
                (job_id, step, epoch, path, train_loss),
            )

    async def set_model(self, job_id: str, step: int, model_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE checkpoints SET model_id = %s WHERE job_id = %s AND step = %s", (model_id, job_id, step))

    async def checkpoints(self, job_id: str) -> list[StoredCheckpoint]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT job_id, step, epoch, path, train_loss, model_id, created_at FROM checkpoints WHERE job_id = %s ORDER BY step",
                    (job_id,),
                )
            ).fetchall()
        return [StoredCheckpoint(*row) for row in rows]

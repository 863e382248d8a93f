"""Why a training run failed, in words its job can report as they are."""

from __future__ import annotations


class TrainingError(Exception):
    """The run cannot go on (a diverged loss, no memory left, an unusable base model)."""


class DataError(TrainingError):
    """A dataset row the trainer cannot use, named by its index (and column, where one is at fault)."""

    def __init__(self, row: int, message: str, column: str | None = None) -> None:
        where = f"row {row}" if column is None else f"row {row}, `{column}`"
        super().__init__(f"{where}: {message}")
        self.row = row
        self.column = column
        self.message = message

"""The agents service's settings (`services.agents.settings` in a distribution)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Inference calls one response may make when `max_infer_iters` is unset (Llama Stack's 10).
    max_infer_iters: int = Field(default=10, ge=1, le=100)
    # Deadline of one inference call of the loop.
    inference_timeout_s: float = Field(default=300.0, gt=0)
    # Deadline of one built-in tool call (a file search).
    tool_timeout_s: float = Field(default=60.0, gt=0)

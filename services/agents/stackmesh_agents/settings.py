"""The agents service's settings (`services.agents.settings` in a distribution)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BackgroundSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Run background responses inside the service process; off when they run in
    # `python -m stackmesh_agents.worker` processes of their own.
    in_process: bool = True
    # Background responses one process runs at once.
    concurrency: int = Field(default=4, ge=1, le=256)
    # Seconds without a heartbeat before the response of a dead worker is run again.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # Runs of one response before it fails for good.
    max_deliver: int = Field(default=3, ge=1)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    background: BackgroundSettings = Field(default_factory=BackgroundSettings)

    # Inference calls one response may make when `max_infer_iters` is unset (Llama Stack's 10).
    max_infer_iters: int = Field(default=10, ge=1, le=100)
    # Deadline of one inference call of the loop.
    inference_timeout_s: float = Field(default=300.0, gt=0)
    # Deadline of one built-in tool call (a file search, an MCP tool call).
    tool_timeout_s: float = Field(default=60.0, gt=0)
    # Deadline of connecting to an MCP server (and of listing its tools).
    mcp_connect_timeout_s: float = Field(default=10.0, gt=0)

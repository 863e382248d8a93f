"""The agents service's settings (`services.agents.settings` in a distribution)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.jobs import WorkerSettings


class BackgroundSettings(WorkerSettings):
    """Workers of background responses (`python -m stackmesh_agents.worker` out of process)."""

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

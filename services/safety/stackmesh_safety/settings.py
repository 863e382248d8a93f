"""The safety service's settings (`services.safety.settings` in a distribution)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputLimits(_Strict):
    """How much text one request may ask a shield to check, in characters (what detector cost
    grows with). 64 KiB holds a long chat turn or tool output; bandit or phone-number
    matching take a second or two of one worker's CPU on that much text."""

    # One message (its content and tool-call arguments) or one moderation input.
    max_message_chars: int = Field(default=64 * 1024, ge=1)
    # Every message, or every moderation input, of one request together.
    max_request_chars: int = Field(default=256 * 1024, ge=1)

    @model_validator(mode="after")
    def _request_holds_a_message(self) -> InputLimits:
        if self.max_request_chars < self.max_message_chars:
            raise ValueError("max_request_chars must be at least max_message_chars")
        return self


class DetectorSettings(_Strict):
    # Processes running the CPU-bound detectors (pii, code-scanner) off the event loop; calls
    # beyond this many wait for a free one.
    workers: int = Field(default=2, ge=1, le=64)
    # Seconds one detector call may run before its worker is killed and the shield answers 504.
    # bandit takes a few seconds on a full-size message of code on a busy machine.
    timeout_s: float = Field(default=30.0, gt=0)


class Settings(_Strict):
    limits: InputLimits = Field(default_factory=InputLimits)
    detectors: DetectorSettings = Field(default_factory=DetectorSettings)

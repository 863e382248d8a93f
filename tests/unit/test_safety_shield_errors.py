"""A shield that cannot finish answers an error the caller can act on, logged without the text."""

from __future__ import annotations

import logging

import pytest

from stackmesh_common.errors import DeadlineExceeded, InvalidArgument, StackmeshError, Unavailable
from stackmesh_safety.messages import Message
from stackmesh_safety.providers.base import Shield
from stackmesh_safety.servicer import run
from stackmesh_safety.workers import DetectorTimeout, DetectorWorkerLost

SHIELD = Shield("pii", "pii", "pii")
SECRET = "hunter2-secret"


class Failing:
    """A provider whose run raises `error`; stands in for the registry too."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def provider(self, shield: Shield) -> Failing:
        return self

    async def run_shield(self, shield, messages, params):
        raise self.error


async def run_failing(error: Exception):
    return await run(Failing(error), SHIELD, [Message("user", SECRET)], {})


async def test_a_detector_past_its_deadline_is_a_504_not_a_verdict():
    with pytest.raises(DeadlineExceeded) as caught:
        await run_failing(DetectorTimeout(2.5))
    assert caught.value.http_status == 504 and caught.value.reason == "shield_timeout"
    assert "`pii`" in caught.value.message and "2.5 s" in caught.value.message


async def test_a_lost_worker_is_a_503_to_retry():
    with pytest.raises(Unavailable) as caught:
        await run_failing(DetectorWorkerLost())
    assert "retry" in caught.value.message


async def test_client_errors_pass_through():
    error = InvalidArgument("bad params", param="params")
    with pytest.raises(InvalidArgument) as caught:
        await run_failing(error)
    assert caught.value is error


async def test_an_unexpected_error_is_logged_by_type_and_frames_never_its_message(caplog):
    with caplog.at_level(logging.ERROR, logger="stackmesh.safety"), pytest.raises(StackmeshError) as caught:
        await run_failing(KeyError(SECRET))
    assert type(caught.value) is StackmeshError and caught.value.reason == "shield_failed"
    assert SECRET not in caught.value.message
    assert "KeyError" in caplog.text and "run_shield" in caplog.text
    assert SECRET not in caplog.text

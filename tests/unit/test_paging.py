"""Page sizes: the default when `limit` is absent, clamping above the maximum, 400 below 1."""

from __future__ import annotations

import pytest

from stackmesh_common.errors import InvalidArgument
from stackmesh_common.paging import CHAT_COMPLETIONS, FILES, PageSize, page_limit

SIZE = PageSize(default=20, maximum=100)


def test_an_absent_limit_is_the_lists_default():
    assert page_limit(None, SIZE) == 20
    assert page_limit(None, FILES) == 20  # not 10,000: a page of files is bounded by default too
    assert page_limit(10_000, FILES) == 10_000


def test_a_limit_up_to_the_maximum_is_kept_and_a_larger_one_clamped():
    assert [page_limit(limit, SIZE) for limit in (1, 100, 101, 2**31 - 1)] == [1, 100, 100, 100]
    assert page_limit(1000, CHAT_COMPLETIONS) == 1000


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_names_the_param(limit):
    with pytest.raises(InvalidArgument) as caught:
        page_limit(limit, SIZE)
    assert caught.value.param == "limit" and "at least 1" in str(caught.value)

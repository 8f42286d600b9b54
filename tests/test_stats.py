"""The project's one percentile (nearest-rank), as the admin and the reports use it."""

from __future__ import annotations

import pytest

from tenants.stats import percentile


def test_nearest_rank_on_one_to_ten():
    values = [float(v) for v in range(10, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.9), percentile(values, 1.0)) == (
        5.0,
        9.0,
        10.0,
    )


def test_small_and_empty_inputs():
    assert percentile([], 0.5) is None
    assert percentile([42.0], 0.9) == 42.0
    assert percentile([1.0, 2.0], 0.5) == 1.0
    with pytest.raises(ValueError):
        percentile([1.0], 0)

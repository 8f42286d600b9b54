"""The project's one percentile: nearest-rank, used by every latency figure (admin, reports,
charts) so the same turns always give the same p50/p90.

Nearest-rank returns an observed value: the smallest value with at least ``q`` of the values
at or below it. On 1..10, p50 is 5 and p90 is 9 (no interpolation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (``0 < q <= 1``) of ``values``; ``None`` if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], not {q!r}")
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))
    return ordered[rank - 1]

"""The fake OpenAI server keeps a real model's pace, which the latency benches rely on.

A bench runs the fake in the process it measures: a per-token ``sleep`` that wakes late while
the agent holds the GIL would make longer replies look slower per token (that skewed
``bench/first_audio.py`` by 10-20 ms against the longer JSON reply).
"""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import DecodeClock


class ManualTime:
    """A clock whose sleeps come back ``late`` seconds late (a busy GIL)."""

    def __init__(self, late: float) -> None:
        self.now = 100.0
        self.late = late
        self.sleeps: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.late

    def decode_clock(self, delay: float) -> DecodeClock:
        return DecodeClock(delay, now=self.perf_counter, sleep=self.sleep)


@pytest.fixture
def manual_time() -> ManualTime:
    return ManualTime(late=0.004)


def test_late_wake_ups_do_not_add_up(manual_time: ManualTime) -> None:
    clock = manual_time.decode_clock(0.020)
    sent_at = []
    for _ in range(10):
        clock.step()
        sent_at.append(manual_time.now - 100.0)
    # Each step is at most one wake-up late: the tenth token goes out at 204 ms, not 240 ms.
    assert sent_at[-1] == pytest.approx(0.204)
    assert all(abs(at - 0.020 * (n + 1)) <= 0.0041 for n, at in enumerate(sent_at))


def test_restart_after_a_hold_paces_from_the_release(manual_time: ManualTime) -> None:
    clock = manual_time.decode_clock(0.020)
    clock.step()
    manual_time.now += 5.0  # a test held the stream
    clock.restart()
    clock.step()
    assert manual_time.sleeps[-1] == pytest.approx(0.020)


def test_no_delay_never_sleeps(manual_time: ManualTime) -> None:
    clock = manual_time.decode_clock(0.0)
    for _ in range(3):
        clock.step()
    assert manual_time.sleeps == []

"""The retry delay: doubling from 10 s, capped at an hour, jittered within the upper half."""

from datetime import timedelta

import pytest

from feedback_svc.outbox.worker import BACKOFF_CAP, backoff_delay


@pytest.mark.parametrize(
    ("attempts", "nominal"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (9, 2560), (10, 3600), (50, 3600), (10_000, 3600)],
)
def test_delay_doubles_from_ten_seconds_up_to_an_hour(attempts: int, nominal: int) -> None:
    assert backoff_delay(attempts, rand=lambda: 1.0) == timedelta(seconds=nominal)
    assert backoff_delay(attempts, rand=lambda: 0.0) == timedelta(seconds=nominal / 2)


def test_jitter_spreads_delays_within_the_upper_half() -> None:
    delays = {backoff_delay(5) for _ in range(200)}
    assert len(delays) > 100  # not one fixed value: jobs failing together come back apart
    assert all(timedelta(seconds=80) <= delay <= timedelta(seconds=160) for delay in delays)


def test_never_beyond_the_cap_even_with_full_jitter() -> None:
    assert max(backoff_delay(n) for n in range(1, 40)) <= BACKOFF_CAP


def test_zero_or_negative_attempts_count_as_the_first() -> None:
    assert backoff_delay(0, rand=lambda: 1.0) == timedelta(seconds=10)


def test_custom_base_and_cap() -> None:
    delay = backoff_delay(3, base=timedelta(seconds=1), cap=timedelta(seconds=3), rand=lambda: 1.0)
    assert delay == timedelta(seconds=3)

"""The test suite's waiting helpers: they return what they waited for and fail saying what it was."""

import pytest

from tests.waiting import eventually, wait_for


async def test_eventually_returns_the_first_value_that_holds() -> None:
    values = iter([0, 1, 2, 3])

    async def probe() -> int:
        return next(values)

    assert await eventually(probe, until=lambda n: n >= 2, what="two", interval=0) == 2


async def test_eventually_fails_naming_what_it_awaited_and_the_last_value() -> None:
    async def probe() -> str:
        return "pending"

    with pytest.raises(AssertionError, match=r"waiting for the job to be done; last value seen: 'pending'"):
        await eventually(
            probe, until=lambda status: status == "done", what="the job to be done", timeout=0.05
        )


def test_wait_for_retries_the_exceptions_it_is_told_are_not_yet() -> None:
    attempts: list[int] = []

    def probe() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError("not listening yet")
        return len(attempts)

    assert wait_for(probe, what="a connection", retry_on=(ConnectionRefusedError,), interval=0) == 3


def test_wait_for_reports_the_last_exception_on_timeout() -> None:
    def probe() -> bool:
        raise ConnectionRefusedError("not listening yet")

    with pytest.raises(AssertionError, match=r"waiting for a connection; the probe last raised Connection"):
        wait_for(probe, what="a connection", retry_on=(ConnectionRefusedError,), timeout=0.05)


def test_an_exception_not_named_is_not_swallowed() -> None:
    def probe() -> bool:
        raise ValueError("a bug in the probe")

    with pytest.raises(ValueError, match="a bug"):
        wait_for(probe, what="anything", retry_on=(ConnectionRefusedError,))

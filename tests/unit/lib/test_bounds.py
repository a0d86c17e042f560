from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback_svc.lib.bounds import (
    EARLIEST,
    END,
    check_day,
    check_instant,
    day_in_range,
    ecma_regex,
    instant_in_range,
)
from feedback_svc.lib.errors import InvalidInput

OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@given(st.datetimes(timezones=OFFSETS))
def test_any_instant_python_holds_is_judged_without_an_error(moment: datetime) -> None:
    accepted = instant_in_range(moment)
    if accepted:
        # an accepted instant converts to UTC and survives a year of arithmetic either way
        utc = moment.astimezone(UTC)
        assert EARLIEST <= utc < END
        utc + timedelta(days=3 * 366)
        utc - timedelta(days=3 * 366)


@given(st.dates())
def test_an_accepted_day_survives_the_analytics_window(day: date) -> None:
    if day_in_range(day):
        day - timedelta(days=3 * 366)
        day + timedelta(days=1)


def test_the_edges_and_their_neighbours() -> None:
    assert not instant_in_range(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
    assert not instant_in_range(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23))))
    assert instant_in_range(datetime(1900, 1, 1, tzinfo=UTC))
    assert not instant_in_range(datetime(1900, 1, 1, tzinfo=timezone(timedelta(minutes=1))))
    assert instant_in_range(datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert not instant_in_range(datetime(2999, 12, 31, 23, 0, tzinfo=timezone(-timedelta(hours=1))))
    assert instant_in_range(datetime(2026, 1, 1))  # no offset: taken as UTC
    assert day_in_range(date(1900, 1, 1))
    assert day_in_range(date(2999, 12, 31))
    assert not day_in_range(date(1899, 12, 31))
    assert not day_in_range(date(3000, 1, 1))


def test_checks_name_the_field() -> None:
    assert check_instant(None, field="since") is None
    assert check_day(date(2026, 1, 1), field="to") == date(2026, 1, 1)
    with pytest.raises(InvalidInput) as refused:
        check_day(date(9999, 12, 31), field="to")
    assert refused.value.errors == [
        {
            "field": "to",
            "message": "dates and times are accepted from 1900-01-01 to 2999-12-31 (UTC)",
            "source": "query",
        }
    ]


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^[a-z]{2,3}(-[A-Z]{2})?$", "en", True),
        (r"^[a-z]{2,3}(-[A-Z]{2})?$", "en\n", False),
        (r"^[a-z]{2,3}(-[A-Z]{2})?$", "pt-BR", True),
        (r"^[a-z]{2,3}(-[A-Z]{2})?$", "pt-BR\n", False),
        (r"^[a-z0-9][a-z0-9_-]{0,63}$", "support_call\n", False),
        (r"^[\x21-\x7e]{1,255}$", "key\n", False),
        (r"^a[$]$", "a$", True),  # a $ in a class is a dollar sign
        (r"^a\$$", "a$", True),  # and so is an escaped one
        (r"^a\$$", "a$\n", False),
        (r"^\d+$", "12", True),
        (r"^\d+$", "1\u0663", False),  # ECMA's \d is ASCII
        (r"\{score\}", "{score} of {max}", True),  # an unanchored pattern still searches
    ],
)
def test_patterns_mean_what_they_mean_in_the_openapi_document(
    pattern: str, value: str, matches: bool
) -> None:
    assert (ecma_regex(pattern).search(value) is not None) is matches

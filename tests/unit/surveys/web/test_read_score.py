from hypothesis import given
from hypothesis import strategies as st

from feedback_svc.surveys.web.schemas import read_score


@given(st.text())
def test_any_text_is_a_small_score_or_none_and_never_an_error(raw: str) -> None:
    score = read_score(raw)
    assert score is None or 0 <= score <= 999


@given(st.integers(min_value=0, max_value=999))
def test_plain_digits_read_as_their_number(score: int) -> None:
    assert read_score(str(score)) == score


def test_digits_python_would_take_are_refused() -> None:
    for raw in ("²", "٣", "５", " 5", "5 ", "+5", "1_0", "5\n", "0005", "9" * 5000, None):
        assert read_score(raw) is None, raw

"""Numbers already in E.164 take a shortcut past phonenumbers.parse(); it gives parse()'s answers."""

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_svc.customers.service import _e164_as_is, normalise_phone

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def slow(phone: str) -> str | None:
    """What normalise_phone answered before the shortcut: parse, check, format."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def examples() -> list[str]:
    """phonenumbers' own example of every kind of number in every region, in E.164."""
    found = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return sorted(found)


EXAMPLES = examples()


@pytest.mark.parametrize("phone", EXAMPLES)
def test_every_example_number_of_every_region(phone: str) -> None:
    fast = _e164_as_is(phone)
    assert fast is None or fast == slow(phone)
    assert normalise_phone(phone) == slow(phone)


def test_the_shortcut_is_taken_for_the_everyday_number() -> None:
    assert _e164_as_is("+4915112345678") == "+4915112345678"
    assert _e164_as_is("+19995550100") is None  # no such area code: parse() and its error decide


@st.composite
def e164_like(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(CODES))
    prefix = draw(st.sampled_from(["", "0", "00", "1", "8", "06", "9"]))
    rest = draw(st.text(alphabet="0123456789", min_size=4, max_size=13))
    return f"+{code}{prefix}{rest}"


@st.composite
def near_examples(draw: st.DrawFn) -> str:
    """A real example with its last digits changed, and sometimes one digit more or less:
    mostly valid numbers, which random digits rarely are."""
    example = draw(st.sampled_from(EXAMPLES))
    keep = draw(st.integers(min_value=4, max_value=len(example) - 1))
    tail = draw(
        st.text(alphabet="0123456789", min_size=len(example) - keep - 1, max_size=len(example) - keep + 1)
    )
    return example[:keep] + tail


@settings(max_examples=3000, deadline=None)
@given(st.one_of(e164_like(), near_examples()))
def test_any_e164_string_gets_the_answer_parse_gives(phone: str) -> None:
    fast = _e164_as_is(phone)
    if fast is not None:
        assert slow(phone) == fast

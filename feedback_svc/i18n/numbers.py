"""Numbers inside sentences, grouped the way the customer's language groups them."""

from babel.numbers import format_decimal

from feedback_svc.i18n.catalogs import supported_locale


def format_number(number: int, *, locale: str | None) -> str:
    """5000 -> '5,000' (en), '5.000' (de), '5 000' (fr, with a narrow no-break space), '5 000' (pl)."""
    return format_decimal(number, locale=supported_locale(locale))

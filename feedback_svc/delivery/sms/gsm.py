"""How many SMS segments a text costs: GSM-7 when every character has a septet, UCS-2 otherwise.

One curly quote or emoji switches the whole message to UCS-2, cutting a segment from 160 to 70
characters, so the texts we write ourselves stay within GSM-7.
"""

import math

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each costs an escape septet plus its own.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def gsm7_septets(text: str) -> int | None:
    """Septets the text takes in GSM-7, or None when it needs UCS-2."""
    septets = 0
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def sms_segments(text: str) -> int:
    """Segments the text is sent as (a concatenated message loses room to its header)."""
    septets = gsm7_septets(text)
    if septets is not None:
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)

"""What the email channel needs from the rest of the service: translated texts and scales."""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

SurveyKind = Literal["nps", "csat", "ces"]

# The same bounds as the CHECK on responses.score; a link outside them could never be recorded.
SCALES: dict[SurveyKind, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

Line = Annotated[str, Meta(min_length=1, max_length=500)]


class EmailTexts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The resolved (translated, personalised) words of one survey email.

    Every field is plain text: the renderer escapes it for HTML, so a customer's name in
    `greeting` may contain anything. Line breaks are folded into spaces.
    """

    subject: Line
    greeting: Line
    intro: Line
    question: Line
    low_label: Line
    high_label: Line
    scale_note: Line
    footer: Line
    unsubscribe_label: Line
    # How a screen reader and the plain-text part name one score, e.g. "{score} out of {max}";
    # a bare "9" read aloud says nothing about the scale.
    score_label: Annotated[str, Meta(min_length=1, max_length=100, pattern=r"\{score\}")] = (
        "{score} out of {max}"
    )
    # "The link stays open for 5 days."; None when the link has no end
    expiry_note: Line | None = None

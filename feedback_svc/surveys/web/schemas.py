"""What each customer-facing page shows, resolved by the caller: texts, URLs, the answer so far.

Views are plain data built in Python, never decoded from a request, so they check only
what would be a programming error. A score a customer sends (the `?score=` in a link, the
form's `score`) is read by `read_score` first; one that does not fit the scale is shown as
"nothing selected" with a message.
"""

import re
from typing import Literal

import msgspec

from feedback_svc.surveys.texts import Kind

MAX_COMMENT_LENGTH = 5000

# the form the survey page posts: `score` (an integer), `comment` (text, may be empty) and
# `contact_requested`, present with this value only when ticked (as browsers send checkboxes)
CONTACT_REQUESTED_VALUE = "true"

FormField = Literal["score", "comment", "contact_requested"]

# Plain ASCII digits, and few of them: str.isdigit() and int() also take "²" or "٣", and
# int() refuses more than 4300 digits. No scale goes past two digits; three allow "010".
_SCORE_FORM = re.compile(r"[0-9]{1,3}")


def read_score(raw: str | None) -> int | None:
    """The score a link or the form carries, or None when it is not 1 to 3 ASCII digits."""
    if raw is None or _SCORE_FORM.fullmatch(raw) is None:
        return None
    return int(raw)


class View(msgspec.Struct, frozen=True, kw_only=True):
    """Base for page views and their texts."""


class Scale(View):
    min: int
    max: int

    def __post_init__(self) -> None:
        if self.min >= self.max:
            raise ValueError(f"a scale runs from a lower to a higher score, got {self.min}..{self.max}")

    def scores(self) -> range:
        return range(self.min, self.max + 1)

    def contains(self, score: int | None) -> bool:
        return score is not None and self.min <= score <= self.max


class FieldError(View):
    """One problem with the submitted form; `field` links it to its control (None: the whole form)."""

    field: FormField | None
    message: str


class SurveyChrome(View):
    """The page's own wording, the same for every survey (see texts.page_texts)."""

    page_title: str
    submit: str
    confirm: str
    optional: str
    edit_note: str  # "You can change your answer until {until}."
    error_summary_title: str
    error_title_prefix: str
    score_error: str  # "Choose a score from {min} to {max}."
    link_score_error: str  # the link's ?score= is not on the scale; "{min}", "{max}" as above
    comment_error: str  # "Please shorten your comment to {max} characters."
    edit_closed_error: str  # the answer's edit window closed while the page was open
    unsubscribe_note: str
    unsubscribe_button: str


class SurveyPageTexts(View):
    """The survey's own wording (question, scale ends, reason and contact prompts) plus the chrome."""

    question: str
    low_label: str
    high_label: str
    reason_prompt: str
    contact_me: str
    chrome: SurveyChrome


class ThanksTexts(View):
    page_title: str
    heading: str
    body: str
    contact_promise: str  # "We'll contact you by {deadline}."
    edit_note: str  # "You can change your answer until {until}."
    edit_link: str


class NoticeTexts(View):
    """A page that only tells something: unavailable, unsubscribed."""

    page_title: str
    heading: str
    body: str


class SurveyPageView(View):
    lang: str
    brand_name: str
    texts: SurveyPageTexts
    kind: Kind
    scale: Scale
    form_action: str
    selected_score: int | None = None
    comment: str = ""
    contact_requested: bool = False
    editable_until: str | None = None  # set when answered before: the edit window's end, formatted
    errors: list[FieldError] = msgspec.field(default_factory=list)
    max_comment_length: int = MAX_COMMENT_LENGTH
    unsubscribe_action: str | None = None  # POST target of the page's one-click unsubscribe form
    score_only: bool = False  # a pulse after a recovery asks the score question alone

    @property
    def confirming(self) -> bool:
        """Opened from a score in the email: one tap on Confirm finishes the answer."""
        return self.scale.contains(self.selected_score) and self.editable_until is None


class ThanksPageView(View):
    lang: str
    brand_name: str
    texts: ThanksTexts
    contact_deadline: str | None = None  # set only when the customer asked to be contacted
    edit_url: str | None = None  # set while the answer can still be changed
    editable_until: str | None = None


class UnavailablePageView(View):
    """The same page for unknown, expired and erased tokens.

    Nothing here may come from the token: `lang` is negotiated from Accept-Language and
    `brand_name` is the service's, so the page cannot tell one cause from another.
    """

    lang: str
    brand_name: str
    texts: NoticeTexts


class UnsubscribedPageView(View):
    lang: str
    brand_name: str
    texts: NoticeTexts

"""The rendered message, read back the way a receiving mail system reads it."""

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

import pytest

from feedback_svc.delivery.email.render import make_message_id, render_survey_email
from feedback_svc.delivery.email.schemas import EmailTexts, SurveyKind

SURVEY_URL = "https://feedback.example.com/s/inv-token-123"
# Longer than a folded header line: it must still arrive as one URL, not as encoded words.
UNSUBSCRIBE_URL = "https://feedback.example.com/u/" + "t0k3n" * 20
MESSAGE_ID = "<survey-0b6f0f5e-3c5e-4d0c-9a53-7f1f7f4f8a11@feedback.example.com>"

ENGLISH = EmailTexts(
    subject="How did we do?",
    greeting="Hi Ana,",
    intro="Thanks for calling our support team yesterday.",
    question="How likely are you to recommend Acme to a friend?",
    low_label="Not at all likely",
    high_label="Extremely likely",
    scale_note="Click a number; it takes one more click to add a comment.",
    footer="You receive this because you contacted Acme support.",
    unsubscribe_label="Unsubscribe from surveys",
)
GERMAN = EmailTexts(
    subject="Wie zufrieden waren Sie mit unserem Gespräch?",
    greeting="Hallo Jürgen Größe,",
    intro="Danke für Ihren Anruf.",
    question="Wie zufrieden sind Sie?",
    low_label="Überhaupt nicht zufrieden",
    high_label="Äußerst zufrieden",
    scale_note="Klicken Sie auf eine Zahl.",
    footer="Sie erhalten diese E-Mail, weil Sie uns kontaktiert haben.",
    unsubscribe_label="Abmelden",
    score_label="{score} von {max}",
)


def render(
    *, texts: EmailTexts = ENGLISH, kind: SurveyKind = "nps", locale: str = "en", **overrides: Any
) -> EmailMessage:
    arguments: dict[str, Any] = {
        "to": "ana@example.com",
        "from_address": "feedback@acme.example",
        "message_id": MESSAGE_ID,
        "locale": locale,
        "texts": texts,
        "kind": kind,
        "survey_url": SURVEY_URL,
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "brand_name": "Acme",
        **overrides,
    }
    return render_survey_email(**arguments)


def received(message: EmailMessage) -> EmailMessage:
    """Serialise as it goes on the wire and parse it back."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(message: EmailMessage, content_type: str) -> str:
    found = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(found) == 1, f"expected one {content_type} part"
    content = found[0].get_content()
    assert isinstance(content, str)
    return content


class Links(HTMLParser):
    """Every <a> with its attributes and text, and every element name seen."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "a":
            self._open = {**attributes, "text": ""}

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.links.append(self._open)
            self._open = None


def parse_html(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def test_is_multipart_alternative_with_plain_text_first_and_html_last() -> None:
    message = received(render())

    assert message.get_content_type() == "multipart/alternative"
    # Clients show the last alternative they understand: HTML must come after plain text.
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    ("kind", "scores"), [("nps", range(0, 11)), ("csat", range(1, 6)), ("ces", range(1, 8))]
)
def test_html_has_one_link_per_score_to_the_survey_page(kind: SurveyKind, scores: range) -> None:
    html = parse_html(part(received(render(kind=kind)), "text/html"))

    score_links = [link for link in html.links if link["href"].startswith(SURVEY_URL)]
    assert [link["href"] for link in score_links] == [f"{SURVEY_URL}?score={n}" for n in scores]
    assert [link["text"] for link in score_links] == [str(n) for n in scores]


def test_score_links_read_well_in_a_screen_reader() -> None:
    html = parse_html(part(received(render()), "text/html"))

    labels = [link["aria-label"] for link in html.links if link["href"].startswith(SURVEY_URL)]
    assert labels[0] == "0 out of 10 (Not at all likely)"
    assert labels[9] == "9 out of 10"
    assert labels[10] == "10 out of 10 (Extremely likely)"


def test_plain_text_has_the_question_every_score_link_and_the_unsubscribe_url() -> None:
    lines = part(received(render(kind="csat")), "text/plain").splitlines()

    assert ENGLISH.question in lines
    assert f"1 out of 5 (Not at all likely): {SURVEY_URL}?score=1" in lines
    for score in range(2, 5):
        assert f"{score} out of 5: {SURVEY_URL}?score={score}" in lines
    assert f"5 out of 5 (Extremely likely): {SURVEY_URL}?score=5" in lines
    assert f"Unsubscribe from surveys: {UNSUBSCRIBE_URL}" in lines


def test_score_is_added_to_a_survey_url_that_already_has_a_query() -> None:
    html = parse_html(part(received(render(survey_url=f"{SURVEY_URL}?c=email")), "text/html"))

    assert f"{SURVEY_URL}?c=email&score=10" in [link["href"] for link in html.links]


def test_html_shows_question_labels_and_a_working_unsubscribe_link() -> None:
    html_text = part(received(render()), "text/html")
    html = parse_html(html_text)

    assert ENGLISH.question in html_text
    assert ENGLISH.low_label in html_text
    assert ENGLISH.high_label in html_text
    unsubscribe = [link for link in html.links if link["href"] == UNSUBSCRIBE_URL]
    assert [link["text"] for link in unsubscribe] == ["Unsubscribe from surveys"]


def test_html_declares_its_language_and_layout_tables_are_presentational() -> None:
    html = parse_html(part(received(render(texts=GERMAN, locale="de")), "text/html"))

    assert ("html", {"lang": "de", "dir": "ltr"}) in html.tags
    # Gmail drops <html>, so the wrapper carries the language too.
    assert any(tag == "div" and attrs.get("lang") == "de" for tag, attrs in html.tags)
    tables = [attrs for tag, attrs in html.tags if tag == "table"]
    assert tables
    assert all(attrs.get("role") == "presentation" for attrs in tables)


def test_right_to_left_languages_get_dir_rtl() -> None:
    html = parse_html(part(received(render(locale="ar")), "text/html"))

    assert ("html", {"lang": "ar", "dir": "rtl"}) in html.tags


def test_html_needs_nothing_from_outside_and_runs_no_script() -> None:
    html_text = part(received(render()), "text/html")
    tags = {tag for tag, _ in parse_html(html_text).tags}

    assert not tags & {"script", "img", "link", "style", "iframe", "form"}
    assert "javascript:" not in html_text.lower()


def test_one_click_unsubscribe_headers_follow_rfc_8058() -> None:
    message = received(render())
    raw = render().as_bytes()

    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # On the wire, verbatim on one line: an RFC 2047-encoded URL is not a URL to mail clients.
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE_URL}>\r\n".encode() in raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


def test_envelope_headers() -> None:
    date = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    message = received(render(date=date, feedback_id="nps:relationship:acme"))

    assert message["To"] == "ana@example.com"
    assert message["From"] == "Acme <feedback@acme.example>"
    assert message["Subject"] == "How did we do?"
    assert message["Message-ID"] == MESSAGE_ID
    assert message["Date"].datetime == date
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Feedback-ID"] == "nps:relationship:acme"


def test_message_id_is_the_same_for_every_render_of_one_invitation() -> None:
    invitation = UUID("0b6f0f5e-3c5e-4d0c-9a53-7f1f7f4f8a11")

    first = make_message_id(invitation, mail_from="feedback@acme.example")
    again = make_message_id(invitation, mail_from="feedback@acme.example")

    assert first == again == "<survey-0b6f0f5e-3c5e-4d0c-9a53-7f1f7f4f8a11@acme.example>"
    assert received(render(message_id=first))["Message-ID"] == first


def test_a_reminder_has_its_own_message_id_and_threads_under_the_invitation() -> None:
    invitation = UUID("0b6f0f5e-3c5e-4d0c-9a53-7f1f7f4f8a11")
    original = make_message_id(invitation, mail_from="feedback@acme.example")
    reminder = make_message_id(invitation, mail_from="feedback@acme.example", reminder=1)
    assert reminder == "<survey-0b6f0f5e-3c5e-4d0c-9a53-7f1f7f4f8a11-r1@acme.example>"
    assert make_message_id(invitation, mail_from="feedback@acme.example", reminder=2) != reminder
    message = received(render(message_id=reminder, in_reply_to=original))
    assert message["Message-ID"] == reminder
    assert message["In-Reply-To"] == original
    assert message["References"] == original
    assert received(render())["In-Reply-To"] is None


def test_a_name_with_markup_is_escaped_in_html() -> None:
    texts = EmailTexts(**{**_fields(ENGLISH), "greeting": 'Hi <script>alert("x")</script> <b>Ana</b>,'})
    html_text = part(received(render(texts=texts)), "text/html")
    html = parse_html(html_text)

    assert "script" not in {tag for tag, _ in html.tags}
    assert "b" not in {tag for tag, _ in html.tags}
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;b&gt;Ana&lt;/b&gt;" in html_text
    # The plain-text part is not HTML: it shows the name as it was typed.
    assert '<script>alert("x")</script>' in part(received(render(texts=texts)), "text/plain")


def test_a_newline_in_name_or_subject_cannot_add_a_header() -> None:
    injected = "Ana\r\nBcc: victim@example.org\r\nX-Injected: yes"
    texts = EmailTexts(
        **{**_fields(ENGLISH), "subject": f"How did we do, {injected}?", "greeting": f"Hi {injected},"}
    )
    message = received(render(texts=texts, brand_name="Acme\nReply-To: evil@example.org"))

    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert message["Reply-To"] is None
    assert message["Subject"] == "How did we do, Ana Bcc: victim@example.org X-Injected: yes?"
    assert message["From"].addresses[0].display_name == "Acme Reply-To: evil@example.org"


def test_an_address_with_a_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        render(to="ana@example.com\r\nBcc: victim@example.org")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"survey_url": "javascript:alert(1)"}, "survey_url must be an absolute http"),
        ({"unsubscribe_url": "https://x.example/u/a b"}, "unsubscribe_url must be ASCII"),
        ({"message_id": "no-brackets@example.com"}, "message_id must look like"),
        ({"locale": 'de" onload="x'}, "locale must be a BCP 47 tag"),
        ({"feedback_id": "a b"}, "feedback_id must be printable ASCII"),
    ],
)
def test_values_that_would_break_the_message_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(**overrides)


def test_german_umlauts_survive_in_subject_and_both_parts() -> None:
    message = received(render(texts=GERMAN, locale="de"))

    assert message["Subject"] == "Wie zufrieden waren Sie mit unserem Gespräch?"
    # Non-ASCII subjects go out RFC 2047-encoded so any relay accepts them.
    assert render(texts=GERMAN, locale="de").as_bytes().isascii()
    text = part(message, "text/plain")
    html_text = part(message, "text/html")
    for content in (text, html_text):
        assert "Hallo Jürgen Größe," in content
        assert "Äußerst zufrieden" in content
    assert "10 von 10 (Äußerst zufrieden)" in text


def _fields(texts: EmailTexts) -> dict[str, str]:
    return {field: getattr(texts, field) for field in texts.__struct_fields__}

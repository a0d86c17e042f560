"""Render one survey invitation as a multipart/alternative email (plain text + HTML)."""

import functools
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import urlencode, urlsplit, urlunsplit
from uuid import UUID

import jinja2
import msgspec

from feedback_svc.delivery.email._mime import (
    POLICY,
    check_locale,
    check_message_id,
    check_url,
    one_line,
    text_direction,
)
from feedback_svc.delivery.email.schemas import SCALES, EmailTexts, SurveyKind


class ScoreLink(msgspec.Struct, frozen=True, kw_only=True):
    value: int
    url: str
    label: str  # what a screen reader says, e.g. "0 out of 10 (Not at all likely)"


def make_message_id(invitation_id: UUID, *, mail_from: str, kind: str = "survey", reminder: int = 0) -> str:
    """A Message-ID derived from what is sent (and a reminder's number), so a retried send
    carries the same one."""
    domain = mail_from.rpartition("@")[2].strip(" >") or "localhost"
    suffix = f"-r{reminder}" if reminder else ""
    return f"<{kind}-{invitation_id}{suffix}@{domain}>"


def render_text_email(
    *,
    to: str,
    from_address: str,
    brand_name: str,
    subject: str,
    text: str,
    message_id: str,
    locale: str,
    date: datetime | None = None,
) -> EmailMessage:
    """A plain-text email in a person's words (a closing message): no links, no HTML, no tracking.

    Raises ValueError for an address or id that cannot be sent, like render_survey_email.
    """
    message = EmailMessage(policy=POLICY)
    message["From"] = Address(display_name=one_line(brand_name), addr_spec=from_address)
    message["To"] = Address(addr_spec=to)
    message["Subject"] = one_line(subject)
    message["Date"] = date or datetime.now(UTC)
    message["Message-ID"] = check_message_id(message_id)
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    # after set_content, which clears every Content-* header
    message["Content-Language"] = check_locale(locale)
    return message


def render_survey_email(
    *,
    to: str,
    from_address: str,
    message_id: str,
    locale: str,
    texts: EmailTexts,
    kind: SurveyKind,
    survey_url: str,
    unsubscribe_url: str,
    brand_name: str,
    feedback_id: str | None = None,
    date: datetime | None = None,
    in_reply_to: str | None = None,
) -> EmailMessage:
    """The invitation email; raises ValueError for an address, URL or id that cannot be sent."""
    check_locale(locale)
    check_url(survey_url, name="survey_url")
    check_url(unsubscribe_url, name="unsubscribe_url")
    texts = _one_line_texts(texts)
    brand = one_line(brand_name)
    scores = score_links(kind=kind, survey_url=survey_url, texts=texts)

    message = EmailMessage(policy=POLICY)
    # Address() refuses CR/LF and anything beyond one addr-spec, so no header can be smuggled in.
    message["From"] = Address(display_name=brand, addr_spec=from_address)
    message["To"] = Address(addr_spec=to)
    message["Subject"] = texts.subject
    message["Date"] = date or datetime.now(UTC)
    message["Message-ID"] = check_message_id(message_id)
    if in_reply_to is not None:
        # a reminder: mail clients show it in one thread with the invitation it follows
        message["In-Reply-To"] = check_message_id(in_reply_to)
        message["References"] = check_message_id(in_reply_to)
    # RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click" to this URL. Only an
    # https URL in a DKIM-signed header earns the button in Gmail and Yahoo.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # RFC 3834: vacation responders stay quiet; answers come by link, never by reply.
    message["Auto-Submitted"] = "auto-generated"
    if feedback_id is not None:
        message["Feedback-ID"] = _check_feedback_id(feedback_id)

    message.set_content(
        _plain_text(texts=texts, scores=scores, unsubscribe_url=unsubscribe_url, brand=brand),
        charset="utf-8",
        cte="quoted-printable",  # stays readable in a raw view, unlike base64
    )
    html = (
        _environment()
        .get_template("survey.html")
        .render(
            lang=locale,
            dir=text_direction(locale),
            texts=texts,
            scores=scores,
            unsubscribe_url=unsubscribe_url,
            brand_name=brand,
        )
    )
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in message.iter_parts():
        del part["MIME-Version"]  # set_content adds it to each part; it belongs on the top only
    return message


def score_links(*, kind: SurveyKind, survey_url: str, texts: EmailTexts) -> list[ScoreLink]:
    """One link per point of the scale, `{survey_url}?score=N`, ends named by their labels."""
    low, high = SCALES[kind]
    links = []
    for value in range(low, high + 1):
        label = texts.score_label.replace("{score}", str(value)).replace("{max}", str(high))
        if value == low:
            label = f"{label} ({texts.low_label})"
        elif value == high:
            label = f"{label} ({texts.high_label})"
        links.append(ScoreLink(value=value, url=_with_score(survey_url, value), label=label))
    return links


def _with_score(survey_url: str, score: int) -> str:
    # `?score=N`, or `&score=N` when the survey URL already carries a query.
    parts = urlsplit(survey_url)
    query = "&".join(filter(None, [parts.query, urlencode({"score": score})]))
    return urlunsplit(parts._replace(query=query))


def _plain_text(*, texts: EmailTexts, scores: list[ScoreLink], unsubscribe_url: str, brand: str) -> str:
    lines = [texts.greeting, "", texts.intro, "", texts.question, ""]
    lines += [f"{score.label}: {score.url}" for score in scores]
    lines += ["", texts.scale_note]
    if texts.expiry_note:
        lines += [texts.expiry_note]
    lines += ["", "-- ", brand, texts.footer]
    lines += [f"{texts.unsubscribe_label}: {unsubscribe_url}", ""]
    return "\n".join(lines)


def _one_line_texts(texts: EmailTexts) -> EmailTexts:
    if "{score}" not in texts.score_label:
        raise ValueError(f"score_label must contain {{score}}, got {texts.score_label!r}")
    values = {
        field: None if getattr(texts, field) is None else one_line(getattr(texts, field))
        for field in texts.__struct_fields__
    }
    return EmailTexts(**values)


def _check_feedback_id(feedback_id: str) -> str:
    if not feedback_id.isascii() or one_line(feedback_id) != feedback_id or " " in feedback_id:
        raise ValueError(f"feedback_id must be printable ASCII without spaces, got {feedback_id!r}")
    return feedback_id


@functools.cache
def _environment() -> jinja2.Environment:
    # Autoescape always on: every text can carry customer input (the name in the greeting).
    return jinja2.Environment(
        loader=jinja2.PackageLoader("feedback_svc.delivery.email", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

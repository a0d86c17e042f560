"""Closing messages: the templates per outcome and locale, checked when saved, filled when sent.

The templates are rows (recovery_message_templates), the eight survey languages shipped by the
migrations: another language is data, added with PUT /v1/recovery/message-templates. A customer's
locale picks the most specific one there is (pt-BR, then pt, then en).

Placeholders are {name} (the customer's name), {brand} (FEEDBACK_BRAND_NAME) and {agent} (who
resolved the task). A customer with no name loses the placeholder and the space before it, so
"Hello {name}," reads "Hello,". Anything else in braces is refused when the template is saved,
so a typo never reaches a customer as "{nmae}".
"""

import re
from typing import Any, Literal

import asyncpg
import msgspec

from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.recovery import closing_queries
from feedback_svc.recovery.schemas import MessageTemplate, MessageTemplateUpdate
from feedback_svc.surveys.texts import locale_chain

Channel = Literal["email", "sms"]

PLACEHOLDERS = ("name", "brand", "agent")
# the template's fields and their limits (the table's CHECKs say the same)
FIELD_LIMITS = {"subject": 200, "greeting": 200, "body": 5000, "sms": 320}
# The message as sent: an agent's own words by SMS, brand prefix included. 480 characters are
# three GSM-7 segments; a longer text belongs in an email.
SMS_MAX = 480
EMAIL_TEXT_MAX = 5000
LOCALE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
FALLBACK_LOCALE = "en"

_BRACED = re.compile(r"\{([^{}]*)\}")
_NAME_GAP = re.compile(r"[ \t]*\{name\}")


class Template(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str
    locale: str
    subject: str
    greeting: str
    body: str
    sms: str


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """What the customer reads: `subject` for email only."""

    channel: Channel
    subject: str | None
    text: str
    source: Literal["template", "agent"]
    locale: str | None


def normalise_locale(locale: str | None) -> str:
    """'pt_BR' and 'pt-BR' both read 'pt-br', as the template rows are keyed."""
    return (locale or FALLBACK_LOCALE).strip().replace("_", "-").lower()


def template_locales(locale: str | None) -> list[str]:
    """Where to look for a customer's template, most specific first: pt-br, pt, en."""
    return locale_chain(normalise_locale(locale))


def template_problems(fields: dict[str, str]) -> list[dict[str, Any]]:
    """What is wrong with a template's texts, one entry per field (the 422's `errors`)."""
    problems = []
    for field, text in fields.items():
        limit = FIELD_LIMITS[field]
        if not text.strip():
            problems.append({"field": field, "message": "must not be empty", "source": "body"})
            continue
        if len(text) > limit:
            problems.append({"field": field, "message": f"at most {limit} characters", "source": "body"})
        unknown = sorted({name for name in _BRACED.findall(text) if name not in PLACEHOLDERS})
        if unknown:
            names = ", ".join("{" + name + "}" for name in unknown)
            allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            problems.append(
                {"field": field, "message": f"unknown placeholder {names}; use {allowed}", "source": "body"}
            )
        elif "{" in _BRACED.sub("", text) or "}" in _BRACED.sub("", text):
            problems.append(
                {"field": field, "message": "a brace without its pair; placeholders look like {name}",
                 "source": "body"}
            )  # fmt: skip
        if field in ("subject", "greeting", "sms") and "\n" in text.strip():
            problems.append({"field": field, "message": "must be one line", "source": "body"})
    return problems


def fill(text: str, *, name: str | None, brand: str, agent: str) -> str:
    """The placeholders replaced in one pass (a name with braces in it stays as it is)."""
    if not (name and name.strip()):
        text = _NAME_GAP.sub("", text)
    values = {"name": (name or "").strip(), "brand": brand, "agent": agent}
    return _BRACED.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def compose(
    template: Template,
    *,
    channel: Channel,
    name: str | None,
    brand: str,
    agent: str,
    own_words: str | None,
) -> Message:
    """The message for one customer: the template filled in, or the agent's own words.

    Own words are the whole text (agents greet and sign as they like); an email still ends
    with the brand, and an SMS starts with it, so the customer knows who writes.
    """
    words = own_words.strip() if own_words else None

    def filled(text: str) -> str:
        return fill(text, name=name, brand=brand, agent=agent)

    if channel == "sms":
        text = f"{brand}: {words}" if words else filled(template.sms)
        return Message(
            channel="sms",
            subject=None,
            text=text,
            source="agent" if words else "template",
            locale=template.locale,
        )
    body = words if words else f"{filled(template.greeting)}\n\n{filled(template.body)}"
    return Message(
        channel="email",
        subject=filled(template.subject),
        text=f"{body}\n\n-- \n{brand}\n",
        source="agent" if words else "template",
        locale=template.locale,
    )


def own_words_problem(words: str, *, channel: Channel, brand: str) -> str | None:
    """Why these words cannot go by this channel (None when they can)."""
    if channel == "sms" and len(f"{brand}: {words.strip()}") > SMS_MAX:
        return (
            f"An SMS takes at most {SMS_MAX} characters with the sender's name in front; "
            f"these words take {len(words.strip()) + len(brand) + 2}. Shorten them or send an email."
        )
    if len(words) > EMAIL_TEXT_MAX:
        return f"Keep the message under {EMAIL_TEXT_MAX} characters."
    return None


# -- the templates as an admin reads and changes them --------------------------------------


def _template(row: dict[str, Any]) -> MessageTemplate:
    return msgspec.convert({k: row[k] for k in MessageTemplate.__struct_fields__}, MessageTemplate)


def checked_locale(locale: str) -> str:
    """A template's locale as stored (lower case), or InvalidInput."""
    normalised = normalise_locale(locale)
    if not LOCALE.fullmatch(normalised) or len(normalised) > 35:
        raise InvalidInput(
            f"{locale!r} is not a language tag; use one such as en, de or pt-BR.",
            errors=[{"field": "locale", "message": "a BCP 47 language tag", "source": "path"}],
        )
    return normalised


async def list_templates(conn: asyncpg.Connection | asyncpg.Pool) -> list[MessageTemplate]:
    return [_template(row) for row in await closing_queries.list_message_templates(conn)]


async def save_template(
    conn: asyncpg.Connection, *, outcome: str, locale: str, data: MessageTemplateUpdate, updated_by: str
) -> tuple[MessageTemplate, bool]:
    """Create or change one template; (the template, whether it is new). Placeholders are checked first."""
    locale = checked_locale(locale)
    fields = {field: getattr(data, field) for field in FIELD_LIMITS}
    problems = template_problems(fields)
    if problems:
        raise InvalidInput(
            "The template was not saved: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            + ".",
            errors=problems,
        )
    row = await closing_queries.upsert_message_template(
        conn,
        outcome=outcome,
        locale=locale,
        updated_by=updated_by,
        **{k: v.strip() for k, v in fields.items()},
    )
    return _template(row), row["created"]


async def delete_template(conn: asyncpg.Connection, *, outcome: str, locale: str) -> None:
    """Remove a locale's template (customers of that locale then get the next one in their chain)."""
    locale = checked_locale(locale)
    if locale == FALLBACK_LOCALE:
        raise Conflict(
            "The English template is where every customer's message falls back to; change it with PUT "
            "instead of deleting it."
        )
    if not await closing_queries.delete_message_template(conn, outcome=outcome, locale=locale):
        raise NotFound(f"No {outcome} template for locale {locale!r}.")

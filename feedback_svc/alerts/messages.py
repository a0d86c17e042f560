"""What an alert says, as an email and as a Slack-compatible JSON body.

Alerts waiting for one recipient go out as one message: the most pressing in full (what happened,
to whom, the deadline, priority and owner, a link to the task), the others one line each, at most
MAX_LISTED of them and then "and N more" with a link to the console's list. Customers' comments and
contact details stay behind the console's login: a message names the customer and the score only.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import jinja2

from feedback_svc.console.timefmt import deadline_text
from feedback_svc.delivery.email._mime import POLICY, check_message_id, one_line
from feedback_svc.lib.localtime import local_text

MAX_LISTED = 10
TITLES = {
    "escalated": "Escalated",
    "contact_request": "Contact requested",
    "deadline_near": "Deadline near",
    "high_value_detractor": "High-value customer unhappy",
}
# the lead of a message: urgent first, then the trigger that most needs someone now
RANK = {"escalated": 0, "contact_request": 1, "deadline_near": 2, "high_value_detractor": 3}
SCALES = {"nps": "0-10", "csat": "1-5", "ces": "1-7"}


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as a person reads it."""

    id: int
    trigger: str
    urgent: bool
    title: str
    headline: str
    facts: tuple[str, ...]
    url: str


@dataclass(frozen=True, slots=True)
class Message:
    key: int
    subject: str
    lead: AlertView
    more: tuple[AlertView, ...]
    alerts_url: str

    @property
    def listed(self) -> tuple[AlertView, ...]:
        return self.more[:MAX_LISTED]

    @property
    def unlisted(self) -> int:
        return max(0, len(self.more) - MAX_LISTED)


def alert_view(row: dict[str, Any], *, base_url: str, zone: str | None, now: datetime) -> AlertView:
    """An alert_context row in words, times in `zone` (the reader's, else UTC)."""
    customer = row["customer_name"] or row["customer_external_id"] or "A customer"
    answer = (
        f"{row['cause_kind'].upper()} {row['cause_score']} ({SCALES.get(row['cause_kind'], '')})"
        if row["cause_kind"]
        else None
    )
    due = deadline_text(row["deadline_at"], now=now, contacted=row["first_contact_at"] is not None)
    trigger = row["trigger"]
    if trigger == "contact_request":
        headline = f"{customer} asked to be contacted"
    elif trigger == "high_value_detractor":
        headline = f"{customer}, worth {float(row['customer_value']):,.0f}, is unhappy"
    elif trigger == "deadline_near":
        headline = f"{customer}: contact {due}, nobody has reached them yet"
    else:
        headline = f"{customer}: not contacted by the deadline, {due}"
    facts = [
        *([f"Answer: {answer}"] if answer else []),
        f"Deadline: {local_text(row['deadline_at'], zone)} ({due})",
        f"Priority: {row['priority']:.1f}" + (" (urgent)" if row["urgency"] == "urgent" else ""),
        f"Owner: {row['owner_name'] or 'nobody yet'}",
    ]
    if row["touchpoint"]:
        facts.append(f"Touchpoint: {row['touchpoint']}" + (" (a moment of truth)" if row["critical"] else ""))
    return AlertView(
        id=row["id"],
        trigger=trigger,
        urgent=row["urgency"] == "urgent",
        title=TITLES.get(trigger, trigger),
        headline=headline,
        facts=tuple(facts),
        url=f"{base_url}/console/tasks/{row['task_id']}",
    )


def compose(key: int, views: list[AlertView], *, base_url: str) -> Message:
    ordered = sorted(views, key=lambda v: (not v.urgent, RANK.get(v.trigger, 9), v.id))
    lead, more = ordered[0], tuple(ordered[1:])
    subject = f"{lead.title}: {lead.headline}" + (f" (+{len(more)} more)" if more else "")
    return Message(key=key, subject=subject, lead=lead, more=more, alerts_url=f"{base_url}/console/alerts")


def message_id(key: int) -> str:
    """The id a message keeps across retries: the `webhook-id`, and the Message-ID's left part."""
    return f"alert-{key}"


def plain_text(message: Message, *, brand: str) -> str:
    lead = message.lead
    lines = [f"{lead.title}{' (urgent)' if lead.urgent else ''}: {lead.headline}", ""]
    lines += [f"- {fact}" for fact in lead.facts]
    lines += ["", f"Open the task: {lead.url}"]
    if message.more:
        count = len(message.more)
        lines += ["", f"{count} more {'alert' if count == 1 else 'alerts'}:"]
        lines += [f"- {view.title}: {view.headline} {view.url}" for view in message.listed]
        if message.unlisted:
            lines.append(f"and {message.unlisted} more: {message.alerts_url}")
    lines += ["", "-- ", f"{brand} recovery alerts", ""]
    return "\n".join(lines)


def email_message(
    message: Message, *, to: str, from_address: str, brand: str, date: datetime | None = None
) -> EmailMessage:
    """The alert as an email; raises ValueError for an address that cannot be written."""
    domain = from_address.rpartition("@")[2].strip(" >") or "localhost"
    email = EmailMessage(policy=POLICY)
    email["From"] = Address(display_name=one_line(brand), addr_spec=from_address)
    email["To"] = Address(addr_spec=to)
    email["Subject"] = one_line(f"[{brand}] {message.subject}")
    email["Date"] = date or datetime.now(UTC)
    # the same on every retry, so a relay or mailbox can drop a copy sent twice after a crash
    email["Message-ID"] = check_message_id(f"<{message_id(message.key)}@{domain}>")
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(plain_text(message, brand=brand), charset="utf-8", cte="quoted-printable")
    html = (
        _environment()
        .get_template("alert.html")
        .render(
            subject=message.subject,
            lead=message.lead,
            more=message.listed,
            more_count=len(message.more),
            unlisted=message.unlisted,
            alerts_url=message.alerts_url,
            brand=one_line(brand),
        )
    )
    email.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in email.iter_parts():
        del part["MIME-Version"]
    return email


def _mrkdwn(text: str) -> str:
    # Slack's three control characters; everything else is shown as typed
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    return f"<{url}|{_mrkdwn(label).replace('|', '¦')}>"


def slack_payload(message: Message) -> dict[str, Any]:
    """`text` for receivers and notifications that read only it; Block Kit `blocks` for Slack."""
    lead = message.lead
    urgent = " · urgent" if lead.urgent else ""
    body = "\n".join([f"*{_link(lead.url, lead.headline)}*", *(f"• {_mrkdwn(f)}" for f in lead.facts)])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{lead.title}{urgent}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
    ]
    if message.more:
        count = len(message.more)
        lines = [f"*{count} more {'alert' if count == 1 else 'alerts'}:*"]
        lines += [f"• {_mrkdwn(v.title)}: {_link(v.url, v.headline)}" for v in message.listed]
        if message.unlisted:
            lines.append(f"and {message.unlisted} more: {_link(message.alerts_url, 'every alert')}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
    text = f"{lead.title}{urgent}: {_mrkdwn(lead.headline)} {lead.url}"
    if message.more:
        text += f" (+{len(message.more)} more)"
    return {"text": text, "blocks": blocks}


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("feedback_svc.alerts", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

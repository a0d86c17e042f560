"""Who hears about what: the alert rules, and raising alerts in the caller's transaction; no HTTP.

An alert is raised by the change that calls for it (a contact request or an unhappy high-value
customer's answer in the recovery trigger's event transaction, a deadline near or passed in the
escalation sweep), as one `alerts` row per recipient, so it exists if and only if the change
does. The unique key (task, trigger, occasion, channel, recipient) makes raising it again a
no-op. sender.py sends them.
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.alerts import queries
from feedback_svc.alerts.schemas import Alert, AlertPage, AlertRule, AlertRuleUpdate, Recipients
from feedback_svc.lib.errors import InvalidInput, NotFound
from feedback_svc.settings import Settings
from feedback_svc.users.service import normalise_email
from feedback_svc.webhooks.targets import TargetRefused, check_url

# the answers that make a customer unhappy; from someone worth FEEDBACK_RECOVERY_HIGH_VALUE or more
UNHAPPY_TRIGGERS = frozenset({"nps_detractor", "csat_low", "ces_high_effort"})


def urgency_of(priority: float, settings: Settings) -> str:
    return "urgent" if priority >= settings.alerts_urgent_priority else "normal"


def task_owner(task: dict[str, Any], *, now: datetime) -> str | None:
    """Who the task is with: its assignee, else whoever holds a live lease on it."""
    if task.get("assignee"):
        return task["assignee"]
    expires = task.get("lease_expires_at")
    return task.get("lease_holder") if expires is not None and expires > now else None


def task_url(base_url: str, task_id: UUID) -> str:
    return f"{base_url}/console/tasks/{task_id}"


def shown_recipient(channel: str, recipient: str) -> str:
    """An email address as it is; a webhook URL as its scheme and host (the path is its secret)."""
    if channel != "slack":
        return recipient
    parts = urlsplit(recipient)
    return f"{parts.scheme}://{parts.netloc}/…"


async def raise_alerts(
    conn: asyncpg.Connection, task: dict[str, Any], *, trigger: str, occasion: str, settings: Settings
) -> int:
    """One alert row per recipient the rule names; how many were new. Control tasks get none."""
    if task["control"] or task["status"] != "open":
        return 0
    urgency = urgency_of(task["priority"], settings)
    rule = await queries.get_rule(conn, trigger=trigger, urgency=urgency)
    if rule is None or not rule["enabled"]:
        return 0
    wanted = msgspec.convert(rule["recipients"], Recipients)
    roles: list[str] = list(wanted.roles)
    owner = task_owner(task, now=datetime.now(UTC)) if wanted.owner else None
    if wanted.owner and owner is None:
        roles.append("agent")  # nobody owns it: the team hears
    people = (
        await queries.people_to_alert(conn, roles=roles, user_ids=list(wanted.users), owner=owner)
        if roles or wanted.users or owner
        else []
    )
    recipients: dict[tuple[str, str], UUID | None] = {}
    for person in people:
        recipients.setdefault(("email", person["email"].lower()), person["id"])
    for address in wanted.emails:
        recipients.setdefault(("email", address.lower()), None)
    for url in wanted.slack:
        recipients.setdefault(("slack", url), None)
    if not recipients:
        return 0
    return await queries.insert_alerts(
        conn,
        task_id=task["id"],
        trigger=trigger,
        urgency=urgency,
        occasion=occasion,
        recipients=[(channel, address, user) for (channel, address), user in recipients.items()],
    )


async def alert_on_signal(
    conn: asyncpg.Connection, task: dict[str, Any], *, trigger: str, high_value: bool, settings: Settings
) -> None:
    """The alerts a new signal on a task calls for (recovery/triggers.py, in the event's transaction)."""
    if trigger == "contact_requested":
        await raise_alerts(conn, task, trigger="contact_request", occasion="", settings=settings)
    elif high_value and trigger in UNHAPPY_TRIGGERS:
        await raise_alerts(conn, task, trigger="high_value_detractor", occasion="", settings=settings)


# -- rules ----------------------------------------------------------------------------------------


def _rule(row: dict[str, Any]) -> AlertRule:
    return AlertRule(
        trigger=row["trigger"],
        urgency=row["urgency"],
        enabled=row["enabled"],
        recipients=msgspec.convert(row["recipients"], Recipients),
        updated_at=row["updated_at"],
    )


async def list_rules(conn: queries.Conn) -> list[AlertRule]:
    return [_rule(row) for row in await queries.list_rules(conn)]


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        message, errors=[{"field": f"recipients.{field}", "message": message, "source": "body"}]
    )


async def _checked_recipients(conn: queries.Conn, wanted: Recipients, *, allow_private: bool) -> Recipients:
    users = list(dict.fromkeys(wanted.users))
    unknown = set(users) - await queries.known_user_ids(conn, users)
    if unknown:
        listed = ", ".join(sorted(str(user) for user in unknown))
        raise _invalid("users", f"No console user has the id {listed}.")
    emails = []
    for address in wanted.emails:
        try:
            emails.append(normalise_email(address))
        except InvalidInput as error:
            raise _invalid("emails", f"{address!r}: {error.detail}") from None
    slack = []
    for url in dict.fromkeys(wanted.slack):
        try:
            slack.append(await check_url(url, allow_private=allow_private))
        except TargetRefused as error:
            raise _invalid("slack", f"Alerts cannot be sent to {url!r}: {error}.") from None
    return Recipients(
        owner=wanted.owner,
        roles=list(dict.fromkeys(wanted.roles)),
        users=users,
        emails=list(dict.fromkeys(emails)),
        slack=slack,
    )


async def update_rule(
    conn: queries.Conn, trigger: str, urgency: str, data: AlertRuleUpdate, *, allow_private: bool
) -> AlertRule:
    recipients = await _checked_recipients(conn, data.recipients, allow_private=allow_private)
    row = await queries.update_rule(
        conn, trigger=trigger, urgency=urgency, enabled=data.enabled, recipients=recipients
    )
    if row is None:
        raise NotFound(f"No alert rule for {trigger!r} at urgency {urgency!r}.")
    return _rule(row)


# -- the record -----------------------------------------------------------------------------------


def alert_from_row(row: dict[str, Any], *, base_url: str) -> Alert:
    key = row["message_key"]
    return Alert(
        id=row["id"],
        task_id=row["task_id"],
        trigger=row["trigger"],
        urgency=row["urgency"],
        channel=row["channel"],
        recipient=shown_recipient(row["channel"], row["recipient"]),
        user_id=row["user_id"],
        status=row["status"],
        attempts=row["attempts"],
        message_id=f"alert-{key}" if key is not None and row["attempts"] > 0 else None,
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        error=row["error"],
        task_url=task_url(base_url, row["task_id"]),
    )


async def list_alerts(
    conn: queries.Conn,
    *,
    status: str | None = None,
    trigger: str | None = None,
    task_id: UUID | None = None,
    channel: str | None = None,
    before: int | None = None,
    limit: int,
    base_url: str,
) -> AlertPage:
    rows = await queries.list_alerts(
        conn, status=status, trigger=trigger, task_id=task_id, channel=channel, before=before, limit=limit + 1
    )
    items = [alert_from_row(row, base_url=base_url) for row in rows[:limit]]
    return AlertPage(items=items, next_before=items[-1].id if len(rows) > limit else None)

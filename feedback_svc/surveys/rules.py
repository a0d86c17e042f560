"""Contact rules: which channel, now or later, or not at all, and why.

Pure functions of the facts, so every rule is tested without a database.
"""

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

Channel = Literal["email", "sms", "web"]
Status = Literal["queued", "scheduled", "sent", "suppressed"]
ReminderAction = Literal["send", "wait", "skip"]

QUIET_START = time(21, 0)
QUIET_END = time(9, 0)

Purpose = Literal["survey", "pulse"]
# The documented exception to the cooldown: a pulse asks, a set number of days after a recovery,
# whether it worked. The answer that opened the task came shortly before, so the cooldown would
# hold nearly every pulse back. Opt-outs, quiet hours and erasure still apply to it.
COOLDOWN_EXEMPT: frozenset[str] = frozenset({"pulse"})


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    email: str | None
    phone: str | None
    time_zone: str
    erased: bool = False


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    reason: str
    channel: Channel | None
    send_at: datetime | None


def choose_channel(
    contact: Contact, preference: Channel | None, opted_out: frozenset[str]
) -> tuple[Channel | None, str]:
    """The first usable channel in preference order, or None with the reasons."""
    if preference == "web":
        return "web", "the CRM shows the survey link itself"
    order: list[Channel] = [preference] if preference else []
    order += [c for c in ("email", "sms") if c not in order]
    problems = []
    for channel in order:
        address = contact.email if channel == "email" else contact.phone
        if not address:
            problems.append(f"no {'email address' if channel == 'email' else 'phone number'}")
        elif channel in opted_out:
            problems.append(f"opted out of {channel}")
        else:
            return channel, ""
    return None, ", ".join(problems)


def quiet_hours_end(moment: datetime, time_zone: str) -> datetime | None:
    """If `moment` falls in the customer's quiet hours, when they end (else None)."""
    zone = ZoneInfo(time_zone)
    local = moment.astimezone(zone)
    if QUIET_END <= local.time() < QUIET_START:
        return None
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=zone)


def decide(
    *,
    contact: Contact,
    preference: Channel | None,
    opted_out: frozenset[str],
    last_invited_at: datetime | None,
    cooldown: timedelta,
    earliest: datetime,
    now: datetime,
    purpose: Purpose = "survey",
) -> Decision:
    """Whether and when to invite; the reason is stored with the invitation."""
    if contact.erased:
        return Decision(status="suppressed", reason="suppressed: customer erased", channel=None, send_at=None)
    cooling = purpose not in COOLDOWN_EXEMPT
    if cooling and last_invited_at is not None and now - last_invited_at < cooldown:
        return Decision(
            status="suppressed",
            reason=f"suppressed: cooldown, last invited {last_invited_at:%Y-%m-%d %H:%M} UTC "
            f"(cooldown {cooldown.days} days)",
            channel=None,
            send_at=None,
        )
    channel, problem = choose_channel(contact, preference, opted_out)
    if channel is None:
        return Decision(status="suppressed", reason=f"suppressed: {problem}", channel=None, send_at=None)
    if channel == "web":
        return Decision(status="sent", reason="sent: link returned to the CRM", channel="web", send_at=now)
    send_at = max(earliest, now)
    reason = f"{'scheduled' if send_at > now else 'queued'}: {channel}"
    if channel == "sms" and (quiet_end := quiet_hours_end(send_at, contact.time_zone)) is not None:
        send_at = quiet_end
        reason = f"scheduled: sms quiet hours in {contact.time_zone} until {quiet_end:%H:%M}"
    if preference and channel != preference:
        reason += f" (instead of {preference}: {_why_not(contact, preference, opted_out)})"
    return Decision(
        status="scheduled" if send_at > now else "queued", reason=reason, channel=channel, send_at=send_at
    )


def _why_not(contact: Contact, channel: Channel, opted_out: frozenset[str]) -> str:
    address = contact.email if channel == "email" else contact.phone
    return f"opted out of {channel}" if address else f"no {channel} contact"


class ReminderRule(msgspec.Struct, frozen=True, kw_only=True):
    """How many reminders an unanswered invitation gets, each `delay` after the one before."""

    count: int
    delay: timedelta


class ReminderDecision(msgspec.Struct, frozen=True, kw_only=True):
    action: ReminderAction
    reason: str
    channel: Channel | None = None
    # for "wait": when the reminder may go (SMS quiet hours end)
    send_at: datetime | None = None


def reminder_rule(*, count: int | None, delay: timedelta | None, default: ReminderRule) -> ReminderRule:
    """A touchpoint's rule; what it leaves open (NULL) is the service's default."""
    return ReminderRule(
        count=default.count if count is None else count, delay=default.delay if delay is None else delay
    )


def reminder_due(
    *,
    after: datetime,
    rule: ReminderRule,
    number: int,
    channel: Channel,
    time_zone: str,
    expires_at: datetime,
) -> datetime | None:
    """When reminder `number` goes: `rule.delay` after `after` (the invitation or the reminder
    before), out of SMS quiet hours; None when the rule allows no such reminder or the survey
    link would no longer open by then."""
    if number > rule.count:
        return None
    due = after + rule.delay
    if channel == "sms" and (quiet_end := quiet_hours_end(due, time_zone)) is not None:
        due = quiet_end
    return due if due < expires_at else None


def decide_reminder(
    *,
    contact: Contact,
    invitation_status: str,
    original: Channel,
    opted_out: frozenset[str],
    number: int,
    rule: ReminderRule,
    expires_at: datetime,
    now: datetime,
) -> ReminderDecision:
    """Whether reminder `number` goes now, waits for the end of quiet hours, or is not worth sending.

    Checked when it comes due, under the invitation's lock: an answer, an opt-out, an erasure or
    a rule turned off since it was planned all win. It goes in the invitation's channel, or in the
    other one when that was opted out since (as an invitation falls back), on the same link."""
    stale = _why_no_reminder(
        erased=contact.erased,
        invitation_status=invitation_status,
        number=number,
        rule=rule,
        expires_at=expires_at,
        now=now,
    )
    if stale is not None:
        return ReminderDecision(action="skip", reason=stale)
    channel, problem = choose_channel(contact, original, opted_out)
    if channel is None or channel == "web":
        return ReminderDecision(action="skip", reason=problem)
    reason = f"sent by {channel}"
    if channel != original:
        reason += f" (instead of {original}: {_why_not(contact, original, opted_out)})"
    if channel == "sms" and (quiet_end := quiet_hours_end(now, contact.time_zone)) is not None:
        if quiet_end >= expires_at:
            return ReminderDecision(action="skip", reason="the survey link expires before quiet hours end")
        return ReminderDecision(
            action="wait",
            reason=f"sms quiet hours in {contact.time_zone} until {quiet_end:%H:%M}",
            channel=channel,
            send_at=quiet_end,
        )
    return ReminderDecision(action="send", reason=reason, channel=channel)


def _why_no_reminder(
    *,
    erased: bool,
    invitation_status: str,
    number: int,
    rule: ReminderRule,
    expires_at: datetime,
    now: datetime,
) -> str | None:
    """What makes a reminder that came due not worth sending, whatever the channel."""
    if erased:
        return "customer erased"
    if invitation_status != "sent":
        return f"invitation {invitation_status}"
    if number > rule.count:
        allowed = "reminders are turned off" if rule.count == 0 else f"the rule allows {rule.count}"
        return f"{allowed} for this touchpoint now"
    if expires_at <= now:
        return "the survey link has expired"
    return None

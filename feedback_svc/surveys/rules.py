"""Contact rules: which channel, now or later, or not at all, and why.

Pure functions of the facts, so every rule is tested without a database.
"""

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

Channel = Literal["email", "sms", "web"]
Status = Literal["queued", "scheduled", "sent", "suppressed"]

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

"""Deadlines in words: server-rendered, so they read right without any script."""

from datetime import datetime, timedelta


def span_text(span: timedelta) -> str:
    """A duration the way people say it: '3 d 4 h', '3 h 20 min', '12 min', 'less than a minute'."""
    minutes = int(abs(span).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "less than a minute"


def deadline_text(deadline: datetime, *, now: datetime, contacted: bool = False) -> str:
    """'due in 3 h 20 min' or 'overdue by 2 h'; once the customer was contacted the promise is settled."""
    if contacted:
        return "customer contacted"
    if deadline >= now:
        return f"due in {span_text(deadline - now)}"
    return f"overdue by {span_text(now - deadline)}"


def ago_text(moment: datetime, *, now: datetime) -> str:
    if moment > now:
        return f"in {span_text(moment - now)}"
    return f"{span_text(now - moment)} ago"

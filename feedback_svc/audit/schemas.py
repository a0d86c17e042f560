"""Audit entries as admins read them."""

from datetime import datetime
from typing import Any, Literal

from feedback_svc.lib.structs import Wire

ActorType = Literal["api_key", "user", "system"]


class AuditEntry(Wire):
    id: int
    actor_type: ActorType
    actor_id: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    request_id: str | None
    created_at: datetime


class AuditPage(Wire):
    entries: list[AuditEntry]
    # pass as `before` for the next (older) page; null on the last page
    next_before: int | None

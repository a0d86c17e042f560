"""Console accounts and sessions as the rest of the service sees them (never the hash)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

Role = Literal["agent", "manager"]
ROLES: tuple[Role, ...] = ("agent", "manager")


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    email: str
    name: str
    role: Role
    time_zone: str
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    disabled_at: datetime | None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class SessionUser(msgspec.Struct, frozen=True, kw_only=True):
    """Who is signed in on this request, and the token their forms must carry."""

    user_id: UUID
    email: str
    name: str
    role: Role
    time_zone: str  # times on console pages are shown in it
    csrf_token: str
    expires_at: datetime

    def can(self, role: Role) -> bool:
        # managers do everything agents do
        return self.role in ("manager", role)


class NewSession(msgspec.Struct, frozen=True, kw_only=True):
    """A session just opened: the cookie value exists only here and in the browser."""

    cookie_value: str
    user: User
    expires_at: datetime

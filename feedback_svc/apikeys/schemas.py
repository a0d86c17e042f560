"""API keys as the API and the CLI show them (never the secret, except once)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from feedback_svc.lib.structs import Wire

# `metrics` reads /metrics only, so the key Prometheus holds can do nothing else
Scope = Literal["crm", "agent", "admin", "metrics"]
SCOPES: tuple[Scope, ...] = ("crm", "agent", "admin", "metrics")
# who an agent key's recovery work is done as: a console user's email to act as that person,
# or any other name without spaces; never a name a client sends
AGENT_PATTERN = r"^[^\s\x00-\x1f\x7f]{1,100}$"
AgentIdentity = Annotated[
    str,
    Meta(
        pattern=AGENT_PATTERN,
        description="The agent this key acts for in the recovery queue (scope `agent` only).",
    ),
]


class ApiKeyCreate(Wire):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    scopes: Annotated[list[Scope], Meta(min_length=1)]
    expires_at: datetime | None = None
    agent: AgentIdentity | None = None


class ApiKey(Wire):
    id: UUID
    name: str
    prefix: str
    scopes: list[Scope]
    agent: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(Wire):
    """The only response that ever carries the key itself."""

    key: Annotated[str, Meta(description="Send as `Authorization: Bearer <key>`. Shown once.")]
    api_key: ApiKey

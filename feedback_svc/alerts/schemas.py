"""Alert rules and recorded alerts on the wire."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from feedback_svc.lib.structs import Wire
from feedback_svc.users.schemas import Role

AlertTrigger = Literal["contact_request", "high_value_detractor", "deadline_near", "escalated"]
ALERT_TRIGGERS: tuple[str, ...] = AlertTrigger.__args__  # type: ignore[attr-defined]
Urgency = Literal["normal", "urgent"]
URGENCIES: tuple[str, ...] = Urgency.__args__  # type: ignore[attr-defined]
Channel = Literal["email", "slack"]
AlertStatus = Literal["pending", "sent", "failed", "cancelled"]

EmailAddress = Annotated[str, Meta(min_length=3, max_length=320)]
HookUrl = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=2000,
        description="A Slack-compatible incoming-webhook URL: http(s) on a public address (private, "
        "loopback and link-local targets are refused unless FEEDBACK_WEBHOOKS_ALLOW_PRIVATE is set).",
    ),
]
MAX_RECIPIENTS = 50


class Recipients(Wire):
    """Who hears about an alert; the people are expanded when the alert is raised."""

    owner: Annotated[
        bool,
        Meta(
            description="The task's owner: its assignee, else whoever is working on it; every agent while "
            "nobody owns it. An owner who is not a console user (an API key's agent) has no address."
        ),
    ] = False
    roles: Annotated[
        list[Role], Meta(max_length=2, description="Every enabled console user with one of these roles.")
    ] = []
    users: Annotated[list[UUID], Meta(max_length=MAX_RECIPIENTS, description="Console users by id.")] = []
    emails: Annotated[
        list[EmailAddress], Meta(max_length=MAX_RECIPIENTS, description="Email addresses (a team list).")
    ] = []
    slack: Annotated[
        list[HookUrl],
        Meta(
            max_length=MAX_RECIPIENTS,
            description='Incoming-webhook URLs, sent a JSON `{"text", "blocks"}` POST (Slack, Mattermost '
            "and other Slack-compatible receivers).",
        ),
    ] = []


class AlertRule(Wire):
    trigger: AlertTrigger
    urgency: Annotated[
        Urgency,
        Meta(description="`urgent`: the task's priority is at least FEEDBACK_ALERTS_URGENT_PRIORITY (100)."),
    ]
    enabled: bool
    recipients: Recipients
    updated_at: datetime


class AlertRuleUpdate(Wire):
    enabled: bool
    recipients: Recipients


class Alert(Wire):
    id: int
    task_id: UUID
    trigger: AlertTrigger
    urgency: Urgency
    channel: Channel
    recipient: Annotated[
        str,
        Meta(description="The email address, or the webhook URL's scheme and host (its path is a secret)."),
    ]
    user_id: Annotated[UUID | None, Meta(description="The console user it was for, when one.")]
    status: AlertStatus
    attempts: int
    message_id: Annotated[
        str | None,
        Meta(
            description="The message that carried it (email Message-ID `<alert-N@...>`, webhook `webhook-id` "
            "`alert-N`), the same on every retry; alerts waiting for one recipient go out together "
            "in one message."
        ),
    ]
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    error: Annotated[str | None, Meta(description="Why it failed or was cancelled.")]
    task_url: Annotated[str, Meta(description="The task's page in the console, which the alert links to.")]


class AlertPage(Wire):
    items: list[Alert]
    next_before: Annotated[
        int | None, Meta(description="Pass as `before` for the next (older) page; null on the last page.")
    ]

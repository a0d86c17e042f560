"""What alerts say: the lead and the digest, Slack's escaping, the email's headers, urgency."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from feedback_svc.alerts.messages import MAX_LISTED, alert_view, compose, email_message, slack_payload
from feedback_svc.alerts.service import shown_recipient, urgency_of
from feedback_svc.recovery.priority import ESCALATION_POINTS, Churn, Signal, compute_priority
from feedback_svc.settings import Settings, SettingsError
from feedback_svc.webhooks.signing import new_secret

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BASE = "https://feedback.acme.example"


def row(n: int, *, trigger: str = "escalated", urgency: str = "normal", **changes: Any) -> dict[str, Any]:
    return {
        "id": n,
        "task_id": uuid4(),
        "trigger": trigger,
        "urgency": urgency,
        "customer_name": f"Customer {n}",
        "customer_external_id": f"c-{n}",
        "customer_value": 12000.0,
        "cause_kind": "nps",
        "cause_score": 3,
        "deadline_at": NOW - timedelta(hours=2),
        "first_contact_at": None,
        "priority": 110.0,
        "owner_name": None,
        "touchpoint": "delivery",
        "critical": True,
        **changes,
    }


def view(n: int, **changes: Any):
    return alert_view(row(n, **changes), base_url=BASE, zone="Europe/Berlin", now=NOW)


def test_an_alert_says_what_happened_to_whom_and_links_the_task() -> None:
    escalated = view(1)
    assert escalated.headline == "Customer 1: not contacted by the deadline, overdue by 2 h"
    assert escalated.facts == (
        "Answer: NPS 3 (0-10)",
        "Deadline: 2026-12-06 11:00 CET (overdue by 2 h)",
        "Priority: 110.0",
        "Owner: nobody yet",
        "Touchpoint: delivery (a moment of truth)",
    )
    assert escalated.url.startswith(f"{BASE}/console/tasks/")
    near = view(2, trigger="deadline_near", deadline_at=NOW + timedelta(minutes=40), customer_name=None)
    assert near.headline == "c-2: contact due in 40 min, nobody has reached them yet"
    assert view(3, trigger="high_value_detractor").headline == "Customer 3, worth 12,000, is unhappy"


def test_the_most_pressing_alert_leads_and_the_rest_become_a_bounded_digest() -> None:
    views = [view(n, trigger="deadline_near") for n in range(1, 30)]
    views.append(view(99, trigger="contact_request", urgency="urgent"))
    message = compose(7, views, base_url=BASE)
    assert message.lead.id == 99
    assert message.subject == "Contact requested: Customer 99 asked to be contacted (+29 more)"
    assert len(message.listed) == MAX_LISTED
    assert message.unlisted == 29 - MAX_LISTED
    payload = slack_payload(message)
    assert payload["text"].endswith("(+29 more)")
    assert (
        f"and {29 - MAX_LISTED} more: <{BASE}/console/alerts|every alert>"
        in payload["blocks"][2]["text"]["text"]
    )


def test_slack_text_escapes_what_a_customer_name_could_smuggle_in() -> None:
    sneaky = view(1, customer_name="<!channel> & <https://evil.example|click>")
    payload = slack_payload(compose(1, [sneaky], base_url=BASE))
    section = payload["blocks"][1]["text"]["text"]
    assert "<!channel>" not in section
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example¦click&gt;" in section
    assert "<!channel>" not in payload["text"]


def test_the_email_keeps_its_message_id_and_says_it_is_automatic() -> None:
    message = compose(41, [view(41)], base_url=BASE)
    email = email_message(message, to="ana@example.com", from_address="alerts@acme.example", brand="Acme")
    assert email["Message-ID"] == "<alert-41@acme.example>"
    assert email["Auto-Submitted"] == "auto-generated"
    assert " ".join(email["Subject"].split()) == "[Acme] Escalated: " + message.lead.headline
    html = email.get_body(preferencelist=("html",)).get_content()
    assert f'href="{message.lead.url}"' in html
    with pytest.raises(ValueError, match="CR or LF"):
        email_message(message, to="a@b.example\r\nBcc: x@y.example", from_address="a@acme.example", brand="A")


def test_urgency_escalation_points_and_shown_recipients() -> None:
    settings = Settings(alerts_urgent_priority=100)
    assert urgency_of(99.9, settings) == "normal"
    assert urgency_of(100, settings) == "urgent"
    signals = [Signal(trigger="nps_detractor", urgency=0.6, touchpoint=None, critical=False)]
    churn = Churn(probability=0.0, source="prior")
    plain = compute_priority(signals, value=0, churn=churn)
    late = compute_priority(signals, value=0, churn=churn, escalated_deadline=NOW)
    assert late.points == plain.points + ESCALATION_POINTS
    assert late.reasons[-1]["text"] == (
        "escalated: nobody contacted the customer by the deadline, 2026-12-06 12:00 UTC: +50 points"
    )
    assert (
        shown_recipient("slack", "https://hooks.slack.com/services/T0/B0/secret")
        == "https://hooks.slack.com/…"
    )
    assert shown_recipient("email", "ana@example.com") == "ana@example.com"


def test_the_signing_secret_must_be_a_standard_webhooks_secret() -> None:
    Settings.from_env({"FEEDBACK_ALERTS_SIGNING_SECRET": new_secret()})
    for bad in ("secret", "whsec_not-base64!", "whsec_" + "QUJD"):
        with pytest.raises(SettingsError, match="FEEDBACK_ALERTS_SIGNING_SECRET"):
            Settings.from_env({"FEEDBACK_ALERTS_SIGNING_SECRET": bad})

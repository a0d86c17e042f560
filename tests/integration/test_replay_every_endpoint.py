"""Every mutating API-key endpoint, read from the app's own routes, replays a retry with the same
Idempotency-Key: the same answer, marked replayed, and the work done once in PostgreSQL; an
agent's or admin's action is audited once, in the action's own transaction.

A new mutating endpoint without an entry in REPLAYS fails the first test, so none can be added
without saying what its work is and proving it happens once.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from feedback_svc.lib.idempotency import HEADER
from feedback_svc.scoring import registry
from feedback_svc.scoring.cache import baseline_bundle
from tests.conftest import KeyFactory
from tests.integration.recovery.conftest import insert_customer, insert_task

Client = AsyncTestClient[Litestar]
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC_URL = "https://93.184.215.14/hooks"  # an IP literal: public, and no DNS needed
NOW = datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Request:
    path: str
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None


Prepare = Callable[[Client, asyncpg.Connection, dict[str, str]], Awaitable[Request]]


@dataclass(frozen=True)
class Replay:
    scope: str
    prepare: Prepare
    # what the work leaves in PostgreSQL: it changes with the first request, not with the replay
    state: str
    # False where the documented replay is the resource as it stands now (an import in progress
    # answers 200 with its progress), not the first answer byte for byte
    same_answer: bool = True
    # audit rows the action writes: one for an agent's or admin's, none for the CRM's data,
    # except an erasure, which is recorded whoever asks for it
    audit_rows: int | None = None

    @property
    def audited(self) -> int:
        return self.audit_rows if self.audit_rows is not None else int(self.scope != "crm")


def history(action: str) -> str:
    return f"SELECT count(*) FROM recovery_task_history WHERE action = '{action}'"


async def _customer(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/customers", json={"external_id": f"crm-{uuid4().hex[:8]}", "name": "Ana"})


async def _erase(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request(f"/v1/customers/{await insert_customer(conn)}")


async def _erase_by_crm_id(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    customer = await insert_customer(conn)
    external_id = await conn.fetchval("SELECT external_id FROM customers WHERE id = $1", customer)
    return Request("/v1/privacy/erasures", json={"customer_external_id": external_id})


async def _event(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    # no external_id: without the key, every resend would be another purchase
    body = {"kind": "purchase", "occurred_at": NOW, "value": 20.0}
    return Request(f"/v1/customers/{await insert_customer(conn)}/events", json=body)


async def _event_by_crm_id(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    customer = await insert_customer(conn)
    external_id = await conn.fetchval("SELECT external_id FROM customers WHERE id = $1", customer)
    body = {"customer_external_id": external_id, "kind": "purchase", "occurred_at": NOW, "value": 5.0}
    return Request("/v1/events", json=body)


def _import(kind: str, text: str) -> Prepare:
    async def prepare(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
        return Request(f"/v1/imports/{kind}", content=text.encode(), content_type="text/csv")

    return prepare


async def _invitation(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request(
        "/v1/invitations",
        json={"customer_id": str(await insert_customer(conn)), "survey": "nps", "channel": "web"},
    )


async def _interaction(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    body = {"customer_id": str(await insert_customer(conn)), "touchpoint": "support_call", "occurred_at": NOW}
    return Request("/v1/interactions", json=body)


async def _response(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    body = {"customer_id": str(await insert_customer(conn)), "survey": "csat", "score": 4}
    return Request("/v1/responses", json=body)


async def _scores(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/scores", json={"items": [{"customer_id": str(await insert_customer(conn))}]})


async def _endpoint_row(conn: asyncpg.Connection) -> UUID:
    return await conn.fetchval(
        "INSERT INTO webhook_endpoints (url, secret, event_types) "
        "VALUES ($1, 'whsec_' || md5(random()::text), ARRAY['task.created']) RETURNING id",
        PUBLIC_URL,
    )


async def _new_endpoint(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/webhook-endpoints", json={"url": PUBLIC_URL, "event_types": ["response.created"]})


async def _patch_endpoint(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request(f"/v1/webhook-endpoints/{await _endpoint_row(conn)}", json={"description": "billing"})


async def _delete_endpoint(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request(f"/v1/webhook-endpoints/{await _endpoint_row(conn)}")


async def _rotate(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request(f"/v1/webhook-endpoints/{await _endpoint_row(conn)}/rotate-secret")


async def _replay_delivery(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    endpoint = await _endpoint_row(conn)
    delivery = await conn.fetchval(
        "INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, payload, status, attempts) "
        "VALUES ($1, 'msg_1', 'task.created', '{}', 'failed', 9) RETURNING id",
        endpoint,
    )
    return Request(f"/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/replay")


async def _models(conn: asyncpg.Connection) -> tuple[str, str]:
    """The shipped model registered twice, under two versions."""
    bundle = baseline_bundle()
    await registry.register_model(conn, bundle)
    await conn.execute(
        "INSERT INTO models (version, artifact, card, metrics) "
        "SELECT version || '-copy', artifact, card, metrics FROM models WHERE version = $1",
        bundle.version,
    )
    return bundle.version, bundle.version + "-copy"


async def _activate(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    first, _ = await _models(conn)
    return Request(f"/v1/models/{first}/activate?force=true")


async def _rollback(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    first, second = await _models(conn)
    for version in (first, second):
        activated = await client.post(f"/v1/models/{version}/activate?force=true", headers=key)
        assert activated.status_code == 200, activated.text
    return Request("/v1/models/rollback")


async def _training(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/models/training-runs")


async def _scoring_run(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    await insert_customer(conn)
    return Request("/v1/scoring/runs")


async def _leased(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> tuple[UUID, str]:
    task = await insert_task(conn, await insert_customer(conn))
    claimed = await client.post("/v1/recovery/tasks/claim", json={}, headers=key)
    assert claimed.status_code == 200, claimed.text
    return task, claimed.json()["lease_token"]


async def _note(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    task, token = await _leased(client, conn, key)
    return Request(f"/v1/recovery/tasks/{task}/notes", json={"lease_token": token, "text": "called"})


async def _assign(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    task, token = await _leased(client, conn, key)
    return Request(f"/v1/recovery/tasks/{task}/assign", json={"lease_token": token, "assignee": None})


async def _claim(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    await insert_task(conn, await insert_customer(conn))
    await insert_task(conn, await insert_customer(conn))  # a re-run would take this one too
    return Request("/v1/recovery/tasks/claim", json={})


async def _lease(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    task, token = await _leased(client, conn, key)
    return Request(f"/v1/recovery/tasks/{task}/lease", json={"lease_token": token, "lease_seconds": 600})


async def _contact(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    task, token = await _leased(client, conn, key)
    body = {"lease_token": token, "channel": "phone", "reached": False}
    return Request(f"/v1/recovery/tasks/{task}/contact-attempts", json=body)


async def _release(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    task, token = await _leased(client, conn, key)
    return Request(f"/v1/recovery/tasks/{task}/release", json={"lease_token": token})


async def _resolve(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    task, token = await _leased(client, conn, key)
    body = {"lease_token": token, "outcome": "recovered", "root_cause": "late_delivery"}
    return Request(f"/v1/recovery/tasks/{task}/resolve", json=body)


async def _reopen(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    resolved = await _resolve(client, conn, key)
    done = await client.post(resolved.path, json=resolved.json, headers=key)
    assert done.status_code == 200, done.text
    return Request(resolved.path.replace("/resolve", "/reopen"), json={"reason": "the parcel is lost again"})


async def _rule(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    body = {
        "enabled": True,
        "urgency": 0.7,
        "deadline_hours": 24,
        "critical_deadline_hours": 4,
        "high_value_deadline_hours": 8,
    }
    return Request("/v1/recovery/rules/csat_low", json=body)


async def _touchpoint(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    body = {
        "name": "Delivery",
        "survey": "csat",
        "critical": True,
        "reminder_count": 2,
        "reminder_delay_hours": 48,
    }
    return Request("/v1/touchpoints/delivery", json=body)


async def _retire_touchpoint(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/touchpoints/delivery/retire")


SURVEY = {"key": "acme", "kind": "nps", "texts": {"en": {"question": "Would you recommend {brand}?"}}}
SURVEYS = "SELECT string_agg(key || version || coalesce(retired_at::text, ''), ',' ORDER BY key) FROM surveys"


async def _new_survey(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/surveys", json=SURVEY)


async def _reword_survey(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    assert (await client.post("/v1/surveys", json=SURVEY, headers=key)).status_code == 201
    return Request("/v1/surveys/acme", json={"texts": {"en": {"question": "Recommend {brand}?"}}})


async def _retire_survey(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    assert (await client.post("/v1/surveys", json=SURVEY, headers=key)).status_code == 201
    return Request("/v1/surveys/acme/retire")


ERASED = "SELECT count(*) FROM customers WHERE erased_at IS NOT NULL"


async def _theme(conn: asyncpg.Connection, label: str) -> int:
    return await conn.fetchval("INSERT INTO themes (locale, label) VALUES ('en', $1) RETURNING id", label)


async def _rename_theme(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request(f"/v1/themes/{await _theme(conn, 'delivery late')}", json={"label": "Late deliveries"})


async def _merge_theme(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    into = await _theme(conn, "delivery")
    return Request(f"/v1/themes/{await _theme(conn, 'parcel late')}/merge", json={"into": into})


async def _theme_run(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/themes/runs")


TEMPLATE = {
    "subject": "Thank you",
    "greeting": "Hello {name},",
    "body": "We sorted out your delivery. {agent}",
    "sms": "{brand}: we sorted out your delivery.",
}
TEMPLATES = (
    "SELECT string_agg(locale || outcome || updated_at::text, ',' ORDER BY locale) "
    "FROM recovery_message_templates"
)


async def _put_template(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    return Request("/v1/recovery/message-templates/recovered/fr", json=TEMPLATE)


async def _delete_template(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    put = await client.put("/v1/recovery/message-templates/recovered/fr", json=TEMPLATE, headers=key)
    assert put.status_code in (200, 201), put.text
    return Request("/v1/recovery/message-templates/recovered/fr")


THEMES = "SELECT string_agg(label || status || updated_at::text, ',' ORDER BY id) FROM themes"


async def _alert_rule(client: Client, conn: asyncpg.Connection, key: dict[str, str]) -> Request:
    body = {
        "enabled": True,
        "recipients": {"owner": True, "roles": ["manager"], "emails": ["leads@example.com"]},
    }
    return Request("/v1/alerts/rules/escalated/urgent", json=body)


MODELS = (
    "SELECT string_agg(version || active || coalesce(activated_at::text, ''), ',' ORDER BY version) "
    "FROM models"
)

REPLAYS: dict[tuple[str, str], Replay] = {
    ("POST", "/v1/customers"): Replay(
        "crm", _customer, "SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM customers"
    ),
    ("DELETE", "/v1/customers/{customer_id:uuid}"): Replay("crm", _erase, ERASED, audit_rows=1),
    ("POST", "/v1/privacy/erasures"): Replay("crm", _erase_by_crm_id, ERASED, audit_rows=1),
    ("POST", "/v1/customers/{customer_id:uuid}/events"): Replay(
        "crm", _event, "SELECT count(*) FROM customer_events"
    ),
    ("POST", "/v1/events"): Replay("crm", _event_by_crm_id, "SELECT count(*) FROM customer_events"),
    ("POST", "/v1/imports/customers"): Replay(
        "crm",
        _import("customers", "external_id,name\ncrm-a,Ana\n"),
        "SELECT count(*) FROM imports",
        same_answer=False,
    ),
    ("POST", "/v1/imports/events"): Replay(
        "crm",
        _import("events", "customer_external_id,kind,occurred_at\ncrm-a,purchase,2026-01-01\n"),
        "SELECT count(*) FROM imports",
        same_answer=False,
    ),
    ("POST", "/v1/imports/interactions"): Replay(
        "crm",
        _import(
            "interactions", "customer_external_id,touchpoint,occurred_at\ncrm-a,support_call,2026-01-01\n"
        ),
        "SELECT count(*) FROM imports",
        same_answer=False,
    ),
    ("POST", "/v1/invitations"): Replay("crm", _invitation, "SELECT count(*) FROM invitations"),
    ("POST", "/v1/interactions"): Replay("crm", _interaction, "SELECT count(*) FROM interactions"),
    ("POST", "/v1/responses"): Replay("crm", _response, "SELECT count(*) FROM responses"),
    ("POST", "/v1/scores"): Replay("crm", _scores, "SELECT count(*) FROM scores"),
    ("POST", "/v1/webhook-endpoints"): Replay(
        "admin", _new_endpoint, "SELECT count(*) FROM webhook_endpoints"
    ),
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id:uuid}"): Replay(
        "admin",
        _patch_endpoint,
        "SELECT string_agg(coalesce(description, '') || updated_at::text, ',') FROM webhook_endpoints",
    ),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id:uuid}"): Replay(
        "admin", _delete_endpoint, "SELECT count(*) FROM webhook_endpoints"
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id:uuid}/rotate-secret"): Replay(
        "admin", _rotate, "SELECT string_agg(secret, ',') FROM webhook_endpoints"
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id:uuid}/deliveries/{delivery_id:int}/replay"): Replay(
        "admin",
        _replay_delivery,
        "SELECT string_agg(status || attempts || next_attempt_at::text, ',') FROM webhook_deliveries",
    ),
    ("POST", "/v1/models/{version:str}/activate"): Replay("admin", _activate, MODELS),
    ("POST", "/v1/models/rollback"): Replay("admin", _rollback, MODELS),
    ("POST", "/v1/models/training-runs"): Replay("admin", _training, "SELECT count(*) FROM training_runs"),
    ("POST", "/v1/scoring/runs"): Replay(
        "admin", _scoring_run, "SELECT count(*) || '/' || sum(ranges) FROM scoring_runs"
    ),
    ("POST", "/v1/recovery/tasks/{task_id:uuid}/notes"): Replay("agent", _note, history("note")),
    ("POST", "/v1/recovery/tasks/{task_id:uuid}/assign"): Replay("agent", _assign, history("assigned")),
    ("POST", "/v1/recovery/tasks/claim"): Replay("agent", _claim, history("claimed")),
    ("POST", "/v1/recovery/tasks/{task_id:uuid}/lease"): Replay("agent", _lease, history("lease_extended")),
    ("POST", "/v1/recovery/tasks/{task_id:uuid}/contact-attempts"): Replay(
        "agent", _contact, history("contact_attempt")
    ),
    ("POST", "/v1/recovery/tasks/{task_id:uuid}/release"): Replay("agent", _release, history("released")),
    ("POST", "/v1/recovery/tasks/{task_id:uuid}/resolve"): Replay("agent", _resolve, history("resolved")),
    ("POST", "/v1/recovery/tasks/{task_id:uuid}/reopen"): Replay("agent", _reopen, history("reopened")),
    ("PUT", "/v1/recovery/message-templates/{outcome:str}/{locale:str}"): Replay(
        "admin", _put_template, TEMPLATES
    ),
    ("DELETE", "/v1/recovery/message-templates/{outcome:str}/{locale:str}"): Replay(
        "admin", _delete_template, TEMPLATES
    ),
    ("PATCH", "/v1/themes/{theme_id:int}"): Replay("admin", _rename_theme, THEMES),
    ("POST", "/v1/themes/{theme_id:int}/merge"): Replay("admin", _merge_theme, THEMES),
    ("POST", "/v1/themes/runs"): Replay("admin", _theme_run, "SELECT count(*) FROM theme_runs"),
    ("PUT", "/v1/recovery/rules/{trigger:str}"): Replay(
        "admin", _rule, "SELECT updated_at::text FROM recovery_rules WHERE trigger = 'csat_low'"
    ),
    ("PUT", "/v1/touchpoints/{key:str}"): Replay(
        "admin", _touchpoint, "SELECT updated_at::text FROM touchpoints WHERE key = 'delivery'"
    ),
    ("POST", "/v1/touchpoints/{key:str}/retire"): Replay(
        "admin", _retire_touchpoint, "SELECT retired_at::text FROM touchpoints WHERE key = 'delivery'"
    ),
    ("POST", "/v1/surveys"): Replay("admin", _new_survey, SURVEYS),
    ("PATCH", "/v1/surveys/{key:str}"): Replay(
        "admin", _reword_survey, "SELECT count(*) FROM survey_versions"
    ),
    ("POST", "/v1/surveys/{key:str}/retire"): Replay("admin", _retire_survey, SURVEYS),
    ("PUT", "/v1/alerts/rules/{trigger:str}/{urgency:str}"): Replay(
        "admin",
        _alert_rule,
        "SELECT updated_at::text FROM alert_rules WHERE trigger = 'escalated' AND urgency = 'urgent'",
    ),
}


def mutating_api_operations(app: Litestar) -> set[tuple[str, str]]:
    """(method, path) of every mutating route behind an API-key scope: the pages, the console
    (CSRF-protected sessions) and provider callbacks (signed, deduplicated by message id) are not."""
    found = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.opt.get("scope"):
                found |= {(method, route.path) for method in handler.http_methods & MUTATING}
    return found


def test_every_mutating_endpoint_has_a_replay_entry(app: Litestar) -> None:
    operations = mutating_api_operations(app)
    assert len(operations) >= 28
    assert operations - REPLAYS.keys() == set(), "add an entry to REPLAYS for each new endpoint"
    assert REPLAYS.keys() - operations == set(), "an entry names a route the app no longer has"


@pytest.mark.parametrize("operation", REPLAYS, ids=[f"{m} {p}" for m, p in REPLAYS])
async def test_a_retry_with_the_same_key_replays_and_the_work_happens_once(
    operation: tuple[str, str], client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    replay = REPLAYS[operation]
    key = await make_key(
        replay.scope, name=f"{replay.scope}-key", agent="sam" if replay.scope == "agent" else None
    )
    request = await replay.prepare(client, conn, key)
    headers = {**key, HEADER: f"retry-{uuid4()}"}
    if request.content_type:
        headers["Content-Type"] = request.content_type
    before = await conn.fetchval(replay.state)
    audit = "SELECT count(*) FROM audit_log WHERE actor_type = 'api_key'"
    audited = await conn.fetchval(audit)

    def send() -> Awaitable[Any]:
        return client.request(
            operation[0], request.path, json=request.json, content=request.content, headers=headers
        )

    first = await send()
    assert 200 <= first.status_code < 300, first.text
    assert "idempotent-replayed" not in first.headers
    done = await conn.fetchval(replay.state)
    assert done != before, f"the first request left no trace in: {replay.state}"
    # an agent's or admin's action is audited with it, in its transaction: there once it is answered
    acted = audited + replay.audited
    assert await conn.fetchval(audit) == acted

    again = await send()
    if replay.same_answer:
        assert (again.status_code, again.content) == (first.status_code, first.content)
    else:
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await conn.fetchval(replay.state) == done, "the replay did the work again"
    assert await conn.fetchval(audit) == acted, "a replay is not another action"

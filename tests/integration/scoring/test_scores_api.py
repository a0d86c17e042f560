"""POST /v1/scores and GET /v1/customers/{id}/score against a real PostgreSQL."""

import math
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.scoring.cache import baseline_bundle
from feedback_svc.settings import Settings
from ml.simulator import populate
from tests.conftest import KeyFactory

NOW = datetime.now(UTC)


@pytest.fixture
async def simulated(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Simulated customers still alive now (the churned ones are scored too, but these are livelier)."""
    await populate(conn, customers=250, seed=7, now=NOW)
    return [row["id"] for row in await conn.fetch("SELECT id FROM customers ORDER BY external_id")]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


async def test_a_batch_scores_known_customers_and_fails_unknown_and_erased_items(
    client: AsyncTestClient[Litestar],
    crm: dict[str, str],
    conn: asyncpg.Connection,
    simulated: list[uuid.UUID],
) -> None:
    erased = simulated[3]
    await conn.execute("UPDATE customers SET erased_at = now(), external_id = NULL WHERE id = $1", erased)
    unknown = uuid.uuid4()
    items = [simulated[0], unknown, simulated[1], erased, simulated[0]]
    response = await client.post(
        "/v1/scores", json={"items": [{"customer_id": str(i)} for i in items]}, headers=crm
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["scored"], body["failed"]) == (3, 2)
    assert [r["customer_id"] for r in body["results"]] == [str(i) for i in items]
    assert [r["status"] for r in body["results"]] == ["scored", "failed", "scored", "failed", "scored"]
    assert body["results"][1]["error"]["status"] == 404
    assert "No customer with id" in body["results"][1]["error"]["detail"]
    assert body["results"][3]["error"]["status"] == 410
    assert "erased" in body["results"][3]["error"]["detail"]
    score = body["results"][0]["score"]
    assert 0 < score["churn_probability"] < 1
    assert 0 < score["loyalty_probability"] < 1
    assert score["risk_band"] in ("low", "medium", "high", "critical")
    expected_index = round(100 * math.sqrt(score["loyalty_probability"] * (1 - score["churn_probability"])))
    assert score["loyalty_index"] == expected_index
    value = await conn.fetchval("SELECT value FROM customers WHERE id = $1", simulated[0])
    assert score["value_at_risk"] == pytest.approx(value * score["churn_probability"])
    assert len(score["reasons"]) == 3
    assert all(set(r) == {"feature", "label", "value", "contribution", "text"} for r in score["reasons"])
    contributions = [abs(r["contribution"]) for r in score["reasons"]]
    assert contributions == sorted(contributions, reverse=True)
    assert score["model_version"] == baseline_bundle().version == body["model_version"]


@pytest.mark.parametrize(
    ("body", "status", "mentions"),
    [
        ({"items": []}, 422, "items"),
        ({"items": [{"customer_id": str(uuid.uuid4())}] * 1001}, 422, "items"),
        ({"items": [{"customer_id": 5}]}, 422, "customer_id"),
        ({"items": [{"customer_id": str(uuid.uuid4()), "attributes": {"seats": [1]}}]}, 422, "attributes"),
        ({"items": [{"customer_id": str(uuid.uuid4()), "value": "12"}]}, 422, "value"),
        ({"items": [{"customer_id": str(uuid.uuid4()), "nickname": "x"}]}, 422, "nickname"),
        ({}, 422, "items"),
    ],
)
async def test_bad_batches_are_refused_as_a_whole(
    client: AsyncTestClient[Litestar],
    crm: dict[str, str],
    body: dict[str, object],
    status: int,
    mentions: str,
) -> None:
    response = await client.post("/v1/scores", json=body, headers=crm)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert mentions in response.json()["detail"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_nan_and_infinity_are_refused(
    client: AsyncTestClient[Litestar], crm: dict[str, str], number: str
) -> None:
    raw = f'{{"items": [{{"customer_id": "{uuid.uuid4()}", "attributes": {{"seats": {number}}}}}]}}'
    response = await client.post(
        "/v1/scores", content=raw, headers={**crm, "content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == response.status_code


async def test_missing_inputs_are_imputed_and_say_so(
    client: AsyncTestClient[Litestar], crm: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/customers",
        json={"external_id": "new-1", "value": 1200, "attributes": {"plan": "basic"}},
        headers=crm,
    )
    customer_id = created.json()["id"]
    response = await client.post(
        "/v1/scores",
        json={
            "items": [{"customer_id": customer_id, "attributes": {"support_tickets_open": None, "seats": 3}}]
        },
        headers=crm,
    )
    score = response.json()["results"][0]["score"]
    # never answered a survey, no tickets figure: imputed; seats were given: not imputed
    assert {"latest_nps", "days_since_last_answer", "attr:support_tickets_open"} <= set(score["imputed"])
    assert "attr:seats" not in score["imputed"]
    fresh = await client.get(f"/v1/customers/{customer_id}/score", headers=crm)
    assert "attr:seats" in fresh.json()["imputed"], "fresh attributes apply to that score only"


async def test_reasons_are_faithful(
    client: AsyncTestClient[Litestar], crm: dict[str, str], simulated: list[uuid.UUID]
) -> None:
    """Move the top reason's input to the typical customer's value: the log-odds move by minus its
    contribution, so the probability moves against the contribution's sign."""
    bundle = baseline_bundle()
    typical = {
        column.group: float(bundle.reference[j])
        for j, column in enumerate(bundle.vectorizer.columns())
        if column.group.startswith("attr:") and "=" not in column.name
    }
    response = await client.post(
        "/v1/scores", json={"items": [{"customer_id": str(i)} for i in simulated]}, headers=crm
    )
    scores = [r["score"] for r in response.json()["results"]]
    picked = [
        s for s in scores if s["reasons"][0]["feature"] in typical and s["reasons"][0]["value"] is not None
    ]
    assert len(picked) >= 3, "the simulated customers should include some whose top reason is a CRM number"
    for score in picked[:5]:
        top = score["reasons"][0]
        key = top["feature"].removeprefix("attr:")
        moved = await client.post(
            "/v1/scores",
            json={
                "items": [{"customer_id": score["customer_id"], "attributes": {key: typical[top["feature"]]}}]
            },
            headers=crm,
        )
        after = moved.json()["results"][0]["score"]["churn_probability"]
        change = _logit(after) - _logit(score["churn_probability"])
        assert change == pytest.approx(-top["contribution"], abs=1e-6)
        assert math.copysign(1, after - score["churn_probability"]) == -math.copysign(1, top["contribution"])


async def test_scores_are_stored_and_at_risk_ones_emit_one_event_each(
    settings: Settings, make_key: KeyFactory, conn: asyncpg.Connection, simulated: list[uuid.UUID]
) -> None:
    crm = await make_key("crm")
    ids = simulated[:60]
    async with AsyncTestClient(app=create_app(settings)) as probe:
        previews = [(await probe.get(f"/v1/customers/{i}/score", headers=crm)).json() for i in ids]
    assert await conn.fetchval("SELECT count(*) FROM scores") == 0, "GET computes, never stores"
    threshold = sorted(p["churn_probability"] for p in previews)[40]
    app = create_app(msgspec.structs.replace(settings, at_risk_threshold=threshold))
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/scores", json={"items": [{"customer_id": str(i)} for i in ids]}, headers=crm
        )
    results = [r["score"] for r in response.json()["results"]]
    stored = {
        row["id"]: row
        for row in await conn.fetch(
            "SELECT id, customer_id, model_version, churn_probability, loyalty, loyalty_index, risk_band, "
            "value_at_risk, reasons, imputed FROM scores"
        )
    }
    assert len(stored) == len(ids)
    for score in results:
        row = stored[score["id"]]
        assert row["customer_id"] == uuid.UUID(score["customer_id"])
        assert row["churn_probability"] == score["churn_probability"]
        assert row["loyalty"] == score["loyalty_probability"]
        assert (row["loyalty_index"], row["risk_band"]) == (score["loyalty_index"], score["risk_band"])
        assert row["value_at_risk"] == pytest.approx(score["value_at_risk"])
        assert row["reasons"] == score["reasons"]
        assert list(row["imputed"]) == score["imputed"]
    events = await conn.fetch(
        "SELECT payload, ordering_key, dedupe_key FROM outbox WHERE payload->>'type' = 'customer.at_risk' "
        "ORDER BY id"
    )
    over = [s for s in results if s["churn_probability"] >= threshold]
    assert 0 < len(over) < len(results)
    assert len(events) == len(over)
    at_stake = [event["payload"]["data"]["value_at_risk"] for event in events]
    assert at_stake == sorted(at_stake, reverse=True), "the highest value at risk first"
    by_score = {event["payload"]["data"]["score_id"]: event for event in events}
    for score in over:
        event = by_score[score["id"]]
        assert event["ordering_key"] == score["customer_id"]
        assert event["dedupe_key"] == f"customer.at_risk:{score['id']}"
        assert event["payload"]["data"] == {
            "customer_id": score["customer_id"],
            "score_id": score["id"],
            "churn_probability": score["churn_probability"],
            "risk_band": score["risk_band"],
            "value_at_risk": score["value_at_risk"],
            "model_version": score["model_version"],
            "reasons": score["reasons"],
        }


async def test_get_score_is_404_for_unknown_and_erased_customers(
    client: AsyncTestClient[Litestar],
    crm: dict[str, str],
    conn: asyncpg.Connection,
    simulated: list[uuid.UUID],
) -> None:
    assert (await client.get(f"/v1/customers/{simulated[0]}/score", headers=crm)).status_code == 200
    await conn.execute(
        "UPDATE customers SET erased_at = now(), external_id = NULL WHERE id = $1", simulated[0]
    )
    for customer, status in ((simulated[0], 410), (uuid.uuid4(), 404)):
        response = await client.get(f"/v1/customers/{customer}/score", headers=crm)
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_scores_need_the_crm_scope(client: AsyncTestClient[Litestar], make_key: KeyFactory) -> None:
    agent = await make_key("agent")
    response = await client.post(
        "/v1/scores", json={"items": [{"customer_id": str(uuid.uuid4())}]}, headers=agent
    )
    assert response.status_code == 403
    assert (await client.get(f"/v1/customers/{uuid.uuid4()}/score")).status_code == 401


async def test_items_may_name_customers_by_the_crms_id(
    client: AsyncTestClient[Litestar],
    crm: dict[str, str],
    conn: asyncpg.Connection,
    simulated: list[uuid.UUID],
) -> None:
    first, second = simulated[0], simulated[1]
    external = await conn.fetchval("SELECT external_id FROM customers WHERE id = $1", second)
    items = [
        {"customer_id": str(first)},
        {"customer_external_id": external},
        {"customer_external_id": "nobody-knows-me"},
        {"customer_external_id": external, "value": 10.0},
    ]
    response = await client.post("/v1/scores", json={"items": items}, headers=crm)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["scored", "scored", "failed", "scored"]
    assert [r["customer_id"] for r in results] == [str(first), str(second), None, str(second)]
    assert [r["customer_external_id"] for r in results] == [None, external, "nobody-knows-me", external]
    assert results[2]["error"]["status"] == 404
    assert (response.json()["scored"], response.json()["failed"]) == (3, 1)
    # the fresh value applies to that item only
    assert results[3]["score"]["value_at_risk"] != results[1]["score"]["value_at_risk"]

    both = await client.post(
        "/v1/scores",
        json={"items": [{"customer_id": str(first), "customer_external_id": external}]},
        headers=crm,
    )
    assert both.status_code == 422
    assert both.json()["errors"][0]["field"] == "items[0].customer_id"

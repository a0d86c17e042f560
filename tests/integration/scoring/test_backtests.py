"""Scores as of a past moment: every input as it was then, nothing stored, nothing emitted."""

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.scoring.cache import baseline_bundle
from feedback_svc.settings import Settings
from ml.queries import fetch_features
from ml.scorer import Scorer
from ml.simulator import populate
from tests.conftest import KeyFactory

NOW = datetime.now(UTC)
AS_OF = NOW - timedelta(days=120)


@pytest.fixture
async def simulated(conn: asyncpg.Connection) -> list[uuid.UUID]:
    await populate(conn, customers=250, seed=5, now=NOW)
    return [row["id"] for row in await conn.fetch("SELECT id FROM customers ORDER BY external_id")]


async def test_a_backtest_reads_the_past_and_stores_and_emits_nothing(
    settings: Settings, make_key: KeyFactory, conn: asyncpg.Connection, simulated: list[uuid.UUID]
) -> None:
    crm = await make_key("crm")
    ids = simulated[:80]
    # a threshold every score passes: a live request would store 80 scores and emit 80 events
    app = create_app(msgspec.structs.replace(settings, at_risk_threshold=0.0))
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/scores",
            json={"items": [{"customer_id": str(i)} for i in ids], "as_of": AS_OF.isoformat()},
            headers=crm,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["scored"] == len(ids)
        assert await conn.fetchval("SELECT count(*) FROM scores") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
        # the same as the active model on the features of that moment, nothing of later
        rows = await fetch_features(conn, as_of=AS_OF, customer_ids=ids)
        expected = {s.customer_id: s for s in Scorer(baseline_bundle()).score(rows)}
        for result in body["results"]:
            score = result["score"]
            assert score["id"] is None
            assert datetime.fromisoformat(score["as_of"]) == AS_OF
            assert score["churn_probability"] == expected[uuid.UUID(score["customer_id"])].churn_probability
        # and not what is true now
        now_rows = await fetch_features(conn, as_of=NOW, customer_ids=ids)
        now = {s.customer_id: s.churn_probability for s in Scorer(baseline_bundle()).score(now_rows)}
        assert any(
            now[uuid.UUID(r["customer_id"])] != r["score"]["churn_probability"] for r in body["results"]
        )

        one = await client.get(
            f"/v1/customers/{ids[0]}/score", params={"as_of": AS_OF.isoformat()}, headers=crm
        )
        assert one.status_code == 200, one.text
        assert one.json()["churn_probability"] == expected[ids[0]].churn_probability
        assert datetime.fromisoformat(one.json()["as_of"]) == AS_OF

        live = await client.post("/v1/scores", json={"items": [{"customer_id": str(ids[0])}]}, headers=crm)
        assert live.json()["results"][0]["score"]["id"] is not None
        assert await conn.fetchval("SELECT count(*) FROM scores") == 1


@pytest.mark.parametrize(
    ("extra", "status", "mentions"),
    [
        ({"as_of": (NOW + timedelta(days=1)).isoformat()}, 422, "in the future"),
        ({"as_of": "2026-01-01T00:00:00"}, 422, "as_of"),
        ({"model_version": "20260101-abcdef12"}, 422, "send as_of too"),
        ({"as_of": AS_OF.isoformat(), "model_version": "no-such-model"}, 404, "No model version"),
    ],
)
async def test_backtests_refuse_what_cannot_be_answered(
    client: AsyncTestClient[Litestar],
    crm: dict[str, str],
    simulated: list[uuid.UUID],
    extra: dict[str, str],
    status: int,
    mentions: str,
) -> None:
    response = await client.post(
        "/v1/scores", json={"items": [{"customer_id": str(simulated[0])}], **extra}, headers=crm
    )
    assert response.status_code == status, response.text
    assert mentions in response.json()["detail"]


async def test_a_backtest_names_the_model_it_scored_with(
    client: AsyncTestClient[Litestar], crm: dict[str, str], simulated: list[uuid.UUID]
) -> None:
    version = baseline_bundle().version
    response = await client.post(
        "/v1/scores",
        json={
            "items": [{"customer_id": str(simulated[1])}],
            "as_of": AS_OF.isoformat(),
            "model_version": version,
        },
        headers=crm,
    )
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == version


async def test_a_fresh_score_as_of_the_future_is_refused(
    client: AsyncTestClient[Litestar], crm: dict[str, str], simulated: list[uuid.UUID]
) -> None:
    later = (NOW + timedelta(days=3)).isoformat()
    response = await client.get(f"/v1/customers/{simulated[0]}/score", params={"as_of": later}, headers=crm)
    assert response.status_code == 422
    assert "in the future" in response.json()["detail"]

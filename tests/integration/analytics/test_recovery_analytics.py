"""The value-vulnerability matrix and recovery effectiveness, checked against hand-computed values."""

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.scoring.cache import baseline_bundle
from tests.integration.console.seed import insert_customer, insert_score, insert_task
from tests.integration.users.console_helpers import log_in, make_user

Client = AsyncTestClient[Litestar]


async def finished_task(
    conn: asyncpg.Connection,
    *,
    days_ago: int,
    outcome: str,
    root_cause: str,
    contact_hours: float | None = None,
    control: bool = False,
    churned_after_days: int | None = None,
) -> UUID:
    customer = await insert_customer(conn, name="Someone")
    task = await insert_task(conn, customer, control=control)
    opened = datetime.now(UTC) - timedelta(days=days_ago)
    await conn.execute(
        """UPDATE recovery_tasks
              SET status = 'resolved', outcome = $2, root_cause = $3, created_at = $4::timestamptz,
                  resolved_at = $4::timestamptz + interval '1 day',
                  deadline_at = $4::timestamptz + interval '150 minutes',
                  first_contact_at = $4::timestamptz + make_interval(secs => $5::float8 * 3600)
            WHERE id = $1""",
        task, outcome, root_cause, opened, contact_hours,
    )  # fmt: skip
    if churned_after_days is not None:
        await conn.execute(
            "INSERT INTO customer_events (customer_id, kind, occurred_at) VALUES ($1, 'churned', $2)",
            customer,
            opened + timedelta(days=churned_after_days),
        )
    return task


async def test_value_vulnerability_counts_each_customer_once_at_their_latest_score(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    # one customer inside each of the serving (baseline) model's risk bands
    starts = [band.min_probability for band in baseline_bundle().card.risk_bands]
    churns = [starts[1] / 2, (starts[1] + starts[2]) / 2, (starts[2] + starts[3]) / 2, 0.9]
    for value, churn in zip((100, 200, 300, 400), churns, strict=True):
        customer = await insert_customer(conn, name=f"v{value}", value=value)
        if value == 400:  # an older, different score must not count
            await insert_score(conn, customer, churn=0.01)
            await conn.execute("UPDATE scores SET scored_at = now() - interval '2 days'")
        await insert_score(conn, customer, churn=churn)
    report = (await client.get("/v1/analytics/value-vulnerability", headers=crm)).json()
    assert report["customers"] == 4
    assert report["value_cuts"] == [175.0, 250.0, 325.0]  # percentile_cont of 100..400
    assert report["risk_bands"] == ["low", "medium", "high", "critical"]
    assert report["risk_cuts"] == [round(start, 4) for start in starts[1:]]
    assert report["risk_source"].startswith("the baseline model")
    filled = {(c["risk_band"], c["value_band"]): c for c in report["cells"] if c["customers"]}
    assert set(filled) == {(0, 0), (1, 1), (2, 2), (3, 3)}
    assert filled[(3, 3)]["value_at_risk"] == pytest.approx(360.0)
    assert len(report["cells"]) == 16


async def test_value_vulnerability_rows_follow_the_serving_models_bands_or_else_quantiles(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    # a hundred customers with the low churn a calibrated model gives: 0.000, 0.001, ... 0.099
    for n in range(100):
        await insert_score(conn, await insert_customer(conn, name=f"c{n}", value=100 + n), churn=n / 1000)

    async def rows() -> list[int]:
        report = (await client.get("/v1/analytics/value-vulnerability", headers=crm)).json()
        counts = [0, 0, 0, 0]
        for cell in report["cells"]:
            counts[cell["risk_band"]] += cell["customers"]
        return counts

    bands = [
        {"name": name, "min_probability": start, "holdout_share": 0.25, "holdout_churn_rate": 0.1}
        for name, start in (("low", 0.0), ("medium", 0.02), ("high", 0.05), ("critical", 0.09))
    ]
    model = await conn.fetchval(
        """INSERT INTO models (version, artifact, card, metrics, active, activated_at)
           VALUES ('v-bands', '\\x00', $1, '{}', true, now()) RETURNING id""",
        {"risk_bands": bands},
    )
    # the active model's card: below 2%, 2-5%, 5-9%, 9% and over
    assert await rows() == [20, 30, 40, 10]
    report = (await client.get("/v1/analytics/value-vulnerability", headers=crm)).json()
    assert report["risk_source"] == "model v-bands"
    assert "medium from 2.0%" in report["method"]

    # a card without four rising bands: the 50th, 80th and 95th percentiles, as cards cut them
    await conn.execute("UPDATE models SET card = '{\"risk_bands\": []}' WHERE id = $1", model)
    assert await rows() == [50, 30, 15, 5]


async def test_recovery_effectiveness_matches_hand_computed_figures(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    await finished_task(conn, days_ago=100, outcome="recovered", root_cause="late_delivery", contact_hours=1)
    await finished_task(conn, days_ago=100, outcome="not_recovered", root_cause="price", contact_hours=2)
    await finished_task(conn, days_ago=5, outcome="recovered", root_cause="late_delivery", contact_hours=3)
    await finished_task(conn, days_ago=5, outcome="recovered", root_cause="late_delivery", contact_hours=4)
    await finished_task(conn, days_ago=5, outcome="unreachable", root_cause="no_phone")
    await finished_task(conn, days_ago=5, outcome="no_action_needed", root_cause="price")
    for churned in (60, None):
        await finished_task(
            conn, days_ago=100, outcome="no_action_needed", root_cause="control_group", control=True,
            churned_after_days=churned,
        )  # fmt: skip
    report = (await client.get("/v1/analytics/recovery", headers=crm)).json()
    # 3 recovered of 5 worked (no_action_needed and control left out); Wilson 95%
    rate = report["recovery_rate"]
    assert (rate["value"], rate["n"]) == (pytest.approx(60.0), 5)
    assert rate["low"] == pytest.approx(23.07, abs=0.01)
    assert rate["high"] == pytest.approx(88.24, abs=0.01)
    assert rate["small_sample"] is True
    # contacts after 1, 2, 3, 4 hours: median 2.5, 90th percentile 1 + 0.9 * 3 = 3.7
    assert report["first_contact"] == {"tasks": 6, "contacted": 4, "median_hours": 2.5, "p90_hours": 3.7}
    # deadline 2.5 h: kept by the 1 h and 2 h contacts, broken by the other four
    assert report["promises_kept"]["value"] == pytest.approx(100 * 2 / 6)
    # control churn 1/2 minus worked churn 0/2 = 50 points, Newcombe interval
    uplift = report["uplift_90d"]
    assert uplift["value"] == pytest.approx(50.0)
    assert uplift["low"] == pytest.approx(-27.26, abs=0.01)
    assert uplift["high"] == pytest.approx(90.55, abs=0.01)
    causes = [(c["root_cause"], c["tasks"], round(c["share"]["value"], 1)) for c in report["root_causes"]]
    assert causes == [("late_delivery", 3, 50.0), ("price", 2, 33.3), ("no_phone", 1, 16.7)]


async def test_without_a_control_group_there_is_no_uplift_and_the_page_says_so(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    await finished_task(conn, days_ago=3, outcome="recovered", root_cause="late_delivery", contact_hours=1)
    report = (await client.get("/v1/analytics/recovery", headers=crm)).json()
    assert report["uplift_90d"] is None
    await make_user(conn, email="boss@example.com", role="manager")
    await log_in(client, "boss@example.com")
    page = await client.get("/console/analytics")
    assert page.status_code == 200
    assert "Value-vulnerability matrix" in page.text
    assert "Needs control-group and worked tasks resolved 90+ days ago" in page.text
    assert 'id="root-causes-t"' in page.text


async def test_no_share_on_the_page_stands_without_its_count(
    client: Client, conn: asyncpg.Connection
) -> None:
    for cause in ("late_delivery", "late_delivery"):
        await finished_task(conn, days_ago=3, outcome="recovered", root_cause=cause, contact_hours=1)
    await make_user(conn, email="boss@example.com", role="manager")
    await log_in(client, "boss@example.com")
    page = (await client.get("/console/analytics")).text
    chart = page[page.index('id="root-causes-t"') : page.index("</svg>", page.index('id="root-causes-t"'))]
    # two tasks of two: the chart says so next to the 100%
    assert "100% · 2 of 2" in chart
    assert ">100.0<" not in chart
    # every bar chart's value labels (right of the bars) carry their count
    for chart_id in ("by-touchpoint", "drivers-detractors", "drivers-churn", "root-causes"):
        svg = re.search(rf'<svg[^>]*aria-labelledby="{chart_id}-t.*?</svg>', page, flags=re.S)
        assert svg is not None, chart_id
        for label in re.findall(r'<text class="muted" x="522"[^>]*>([^<]+)</text>', svg.group(0)):
            assert " of " in label or "n=" in label, label


async def test_value_vulnerability_takes_the_expected_value_where_the_crm_sent_none(
    client: Client, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    """A CRM that sends no value (0): what the customer is expected to spend within the model's
    horizon, as the latest score has it, stands in, as it does for value_at_risk."""
    for value, expected in ((100.0, 999.0), (0.0, 300.0), (0.0, 500.0), (0.0, None)):
        customer = await insert_customer(conn, name=f"v{value}-{expected}", value=value)
        await insert_score(conn, customer, churn=0.5)
        await conn.execute("UPDATE scores SET expected_value = $2 WHERE customer_id = $1", customer, expected)
    report = (await client.get("/v1/analytics/value-vulnerability", headers=crm)).json()
    assert report["customers"] == 4
    # values 100 (the CRM's, not 999), 300, 500 and 0 (nothing known)
    assert report["value_cuts"] == [75.0, 200.0, 350.0]
    assert sum(cell["value"] for cell in report["cells"]) == pytest.approx(900.0)
    assert sum(cell["value_at_risk"] for cell in report["cells"]) == pytest.approx(450.0)

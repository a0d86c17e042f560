"""Agent performance: each number against the fixture in agent_seed.py, and the tasks behind it."""

import csv
import io
from datetime import timedelta
from uuid import UUID

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.integration.analytics.agent_seed import ANN, BO, NOW, Fixture, customer_event, resolved_task, seed
from tests.integration.users.console_helpers import log_in

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def fixture(conn: asyncpg.Connection) -> Fixture:
    return await seed(conn)


def by_agent(report: dict) -> dict[str | None, dict]:
    return {row["agent"]: row for row in report["agents"]}


async def test_each_number_matches_the_hand_computed_fixture(
    client: Client, fixture: Fixture, crm: dict[str, str]
) -> None:
    response = await client.get("/v1/analytics/agents", headers=crm)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["small_sample_below"] == 10
    assert report["churn_labels"] == "contractual"
    # by name: Ann Agent, bo (an API key's agent), Cy Idle; not the disabled agent, not the manager
    assert [row["agent"] for row in report["agents"]] == [ANN, BO, "cy@example.com"]
    ann = by_agent(report)[ANN]
    assert (ann["name"], ann["tasks"], ann["critical"]) == ("Ann Agent", 5, 0)
    # contacts after 1, 3, 5, 2 hours: median 2.5; four values give no 95% interval
    assert ann["first_contact_hours"] == {
        "value": 2.5,
        "low": None,
        "high": None,
        "n": 4,
        "small_sample": True,
    }
    # due: t1-t3 and t5 (contacted) and t4 (deadline passed while open); kept: t1, t3, t5
    assert ann["promises_kept"]["value"] == pytest.approx(60.0)
    assert (ann["promises_kept"]["low"], ann["promises_kept"]["high"]) == (
        pytest.approx(23.07, abs=0.01),
        pytest.approx(88.24, abs=0.01),
    )  # Wilson 3/5
    assert (ann["promises_kept"]["n"], ann["promises_broken"]) == (5, 2)
    assert ann["outcomes"] == {"recovered": 2, "not_recovered": 1, "unreachable": 1, "no_action_needed": 1}
    # recovered among worked (no_action_needed left out): 2 of 4
    assert (ann["recovered_share"]["value"], ann["recovered_share"]["n"]) == (50.0, 4)
    # +60 (NPS 3 -> 9: 6 of 10 points), +25 (CSAT 2 -> 3: 1 of 4), +50 (CES 6 -> 3: 3 of 6, turned)
    change = ann["score_change"]
    assert (change["value"], change["n"]) == (pytest.approx(45.0), 3)
    assert (change["low"], change["high"]) == (
        pytest.approx(0.2166, abs=1e-3),
        pytest.approx(89.7834, abs=1e-3),
    )
    assert ann["with_survey"] == 4
    # observed (resolved 90+ days ago): t1, t2, t3; churned within 90 days: t2 only
    assert (ann["churn_90d"]["value"], ann["churn_90d"]["n"], ann["churned_90d"]) == (
        pytest.approx(100 / 3),
        3,
        1,
    )
    # Ann 3/5 promises against bo's 2/2: -40 points, Newcombe [-76.93, 31.57]
    vs_rest = ann["promises_kept_vs_rest"]
    assert vs_rest["value"] == pytest.approx(-40.0)
    assert (vs_rest["low"], vs_rest["high"]) == (
        pytest.approx(-76.93, abs=0.01),
        pytest.approx(31.57, abs=0.01),
    )
    assert ann["recovered_share_vs_rest"]["value"] == pytest.approx(0.0)  # 2/4 against 1/2
    assert ann["churn_90d_vs_rest"] is None  # nobody else's customers observed yet

    bo = by_agent(report)[BO]
    assert (bo["name"], bo["tasks"]) == (None, 2)
    # t7 counts for bo, from its reopening (4 h), not from its creation 60 days ago
    assert (bo["first_contact_hours"]["value"], bo["first_contact_hours"]["n"]) == (7.0, 2)
    assert (bo["promises_kept"]["value"], bo["promises_broken"]) == (100.0, 0)
    assert bo["outcomes"] == {"recovered": 1, "not_recovered": 1, "unreachable": 0, "no_action_needed": 0}
    assert bo["score_change"]["n"] == 0
    assert bo["score_change"]["value"] is None
    assert bo["churn_90d"]["n"] == 0

    idle = by_agent(report)["cy@example.com"]
    assert (idle["name"], idle["tasks"], idle["promises_kept"]["value"]) == ("Cy Idle", 0, None)
    assert idle["promises_kept_vs_rest"] is None

    team = report["team"]
    assert (team["agent"], team["tasks"]) == (None, 7)
    # 1, 2, 3, 4, 5, 10 hours: median 3.5 between the smallest and largest (n = 6)
    assert team["first_contact_hours"] == {
        "value": 3.5,
        "low": 1.0,
        "high": 10.0,
        "n": 6,
        "small_sample": True,
    }
    assert (team["promises_kept"]["value"], team["promises_kept"]["n"]) == (pytest.approx(500 / 7), 7)
    assert team["outcomes"] == {"recovered": 3, "not_recovered": 2, "unreachable": 1, "no_action_needed": 1}
    assert (team["recovered_share"]["value"], team["recovered_share"]["n"]) == (50.0, 6)
    assert team["score_change"]["value"] == pytest.approx(45.0)
    assert (team["churned_90d"], team["churn_90d"]["n"]) == (1, 3)
    assert team["promises_kept_vs_rest"] is None


async def test_the_period_counts_tasks_by_when_they_were_resolved(
    client: Client, fixture: Fixture, crm: dict[str, str]
) -> None:
    first = (NOW - timedelta(days=30)).date().isoformat()
    report = (await client.get(f"/v1/analytics/agents?from={first}", headers=crm)).json()
    assert report["date_from"] == first
    agents = by_agent(report)
    assert agents[ANN]["tasks"] == 2  # t4 and t5
    assert BO not in agents  # bo resolved nothing in the last 30 days and is no console user
    assert report["team"]["tasks"] == 2
    bad = await client.get("/v1/analytics/agents?from=2026-05-01&to=2026-04-01", headers=crm)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("tasks", ["t5", "t4", "t3", "t2", "t1"]),
        ("first_contact", ["t5", "t3", "t2", "t1"]),
        ("promises", ["t5", "t4", "t3", "t2", "t1"]),
        ("promises_broken", ["t4", "t2"]),
        ("worked", ["t5", "t3", "t2", "t1"]),
        ("recovered", ["t5", "t1"]),
        ("not_recovered", ["t2"]),
        ("unreachable", ["t3"]),
        ("no_action_needed", ["t4"]),
        ("score_change", ["t3", "t2", "t1"]),
        ("churn_90d", ["t3", "t2", "t1"]),
        ("churned_90d", ["t2"]),
    ],
)
async def test_the_tasks_behind_each_number(
    client: Client, fixture: Fixture, crm: dict[str, str], metric: str, expected: list[str]
) -> None:
    response = await client.get(f"/v1/analytics/agents/{ANN}/tasks?metric={metric}", headers=crm)
    assert response.status_code == 200, response.text
    page = response.json()
    names = {task_id: key for key, task_id in fixture.tasks.items()}
    assert [names[UUID(task["task_id"])] for task in page["tasks"]] == expected
    assert page["next_cursor"] is None


async def test_a_drill_down_row_carries_what_its_number_is_made_of(
    client: Client, fixture: Fixture, crm: dict[str, str]
) -> None:
    page = (await client.get(f"/v1/analytics/agents/{ANN}/tasks?metric=score_change", headers=crm)).json()
    t3 = next(task for task in page["tasks"] if task["task_id"] == str(fixture.tasks["t3"]))
    assert (t3["survey_kind"], t3["score_before"], t3["score_after"], t3["score_change"]) == (
        "ces",
        6,
        3,
        50.0,
    )
    assert (t3["hours_to_first_contact"], t3["promise_due"], t3["promise_kept"]) == (5.0, True, True)
    assert (t3["outcome"], t3["churn_observed"], t3["churned_90d"]) == ("unreachable", True, False)
    bo = (await client.get(f"/v1/analytics/agents/{BO}/tasks", headers=crm)).json()
    t7 = next(task for task in bo["tasks"] if task["task_id"] == str(fixture.tasks["t7"]))
    assert t7["hours_to_first_contact"] == 4.0
    assert t7["opened_at"] < t7["first_contact_at"] < t7["resolved_at"]


async def test_the_drill_down_pages_with_a_cursor(
    client: Client, fixture: Fixture, crm: dict[str, str]
) -> None:
    seen = []
    url = f"/v1/analytics/agents/{ANN}/tasks?limit=2"
    while True:
        page = (await client.get(url, headers=crm)).json()
        seen += [task["task_id"] for task in page["tasks"]]
        if page["next_cursor"] is None:
            break
        url = f"/v1/analytics/agents/{ANN}/tasks?limit=2&cursor={page['next_cursor']}"
    assert len(seen) == 5
    assert len(set(seen)) == 5
    bad = await client.get(f"/v1/analytics/agents/{ANN}/tasks?cursor=nonsense", headers=crm)
    assert bad.status_code == 422
    unknown = await client.get(f"/v1/analytics/agents/{ANN}/tasks?metric=speed", headers=crm)
    assert unknown.status_code in (400, 422)


async def test_without_contracts_churn_is_no_purchase_among_buyers(
    settings: Settings, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    # bought before and nothing within 90 days: churned; bought again after 30 days: stayed;
    # never bought: not in the population
    for key, purchases in (("lapsed", [-10]), ("loyal", [-10, 30]), ("never", [])):
        _task, customer, resolved = await resolved_task(
            conn, name=key, agent=ANN, opened_days=150, contact_hours=1, deadline_hours=2, outcome="recovered"
        )
        for days in purchases:
            await customer_event(conn, customer, resolved + timedelta(days=days), kind="purchase")
    app = create_app(msgspec.structs.replace(settings, churn_labels="non_contractual"))
    async with AsyncTestClient(app=app) as client:
        report = (await client.get("/v1/analytics/agents", headers=crm)).json()
    assert report["churn_labels"] == "non_contractual"
    ann = by_agent(report)[ANN]
    assert (ann["churned_90d"], ann["churn_90d"]["n"]) == (1, 2)
    assert "no purchase within 90 days" in report["method"]


async def test_agent_keys_may_not_read_the_numbers(
    client: Client, fixture: Fixture, make_key: object
) -> None:
    agent_key = await make_key("agent", name="alex-key", agent=ANN)  # type: ignore[operator]
    assert (await client.get("/v1/analytics/agents", headers=agent_key)).status_code == 403
    assert (await client.get(f"/v1/analytics/agents/{ANN}/tasks", headers=agent_key)).status_code == 403
    assert (await client.get("/v1/analytics/agents")).status_code == 401


async def test_csv_has_the_team_first_and_every_interval(
    client: Client, fixture: Fixture, crm: dict[str, str]
) -> None:
    response = await client.get("/v1/analytics/agents.csv", headers=crm)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["agent"] for row in rows] == ["(team)", ANN, BO, "cy@example.com"]
    ann = rows[1]
    assert (ann["tasks"], ann["promises_kept"], ann["promises_kept_n"], ann["promises_broken"]) == (
        "5",
        "60.0",
        "5",
        "2",
    )
    assert (ann["promises_kept_low"], ann["promises_kept_high"]) == ("23.07", "88.24")
    assert ann["first_contact_hours_small_sample"] == "true"
    assert ann["promises_kept_vs_rest"] == "-40.0"


async def test_the_console_page_is_for_managers_and_links_every_number(
    client: Client, conn: asyncpg.Connection, fixture: Fixture
) -> None:
    await log_in(client, ANN)
    refused = await client.get("/console/agents")
    assert refused.status_code == 403
    client.cookies.clear()
    await log_in(client, "boss@example.com")
    page = await client.get("/console/agents")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Whole team" in text
    assert "Ann Agent" in text
    assert "Cy Idle" in text
    assert "Gone Agent" not in text
    assert "few cases" in text
    for metric in ("tasks", "first_contact", "promises", "promises_broken", "worked", "recovered",
                   "not_recovered", "unreachable", "no_action_needed", "score_change", "churn_90d",
                   "churned_90d"):  # fmt: skip
        assert f"agent=ann%40example.com&amp;metric={metric}&amp;" in text, metric
    assert 'href="/console/agents"' in text  # in the navigation
    drill = await client.get("/console/agents/tasks", params={"agent": ANN, "metric": "promises_broken"})
    assert drill.status_code == 200
    assert drill.text.count("/console/tasks/") == 2
    assert f"/console/tasks/{fixture.tasks['t2']}" in drill.text
    assert "Ann Agent: promises broken" in drill.text
    download = await client.get("/console/agents.csv")
    assert download.status_code == 200
    assert download.text.startswith("agent,name,tasks")

"""`feedback-svc demo`: a database a newcomer can click through, made by the service's own rules.

Simulated customers and their history (ml.simulator) with recovery tasks as the queue opens
them (its triggers, deadlines and priorities, worked and assigned only by console accounts the
demo creates), a model trained on it all and activated only if it beats the one serving (the
registry's usual comparison, never forced), everyone scored through the scoring path, the open
tasks prioritised again with those scores, and API keys to try it with.
"""

import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.db.pool import create_pool
from feedback_svc.demo import queries
from feedback_svc.lib.errors import Conflict
from feedback_svc.recovery import queries as recovery_queries
from feedback_svc.recovery.priority import compute_priority
from feedback_svc.recovery.triggers import latest_churn, load_rules, task_signals
from feedback_svc.scoring import service as scoring
from feedback_svc.scoring.at_risk import AtRiskPolicy
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.schemas import MAX_BATCH, ScoreItem
from feedback_svc.scoring.trainer import Trained, describe, train_and_register
from feedback_svc.settings import Settings
from feedback_svc.themes import service as themes
from feedback_svc.users import queries as user_queries
from feedback_svc.users.service import create_user
from ml.simulator import RecoveryPolicy, populate

# (name, email, role): one manager to see analytics and assign, three agents to work the queue
PEOPLE = (
    ("Morgan Manager", "morgan.demo@example.com", "manager"),
    ("Alex Agent", "alex.demo@example.com", "agent"),
    ("Sam Agent", "sam.demo@example.com", "agent"),
    ("Robin Agent", "robin.demo@example.com", "agent"),
)


@dataclass(frozen=True, kw_only=True)
class Person:
    name: str
    email: str
    role: str
    created: bool  # False: the account existed, its password is unchanged


@dataclass(frozen=True, kw_only=True)
class Demo:
    people: list[Person]
    password: str  # of the accounts created by this run
    crm_admin_key: str
    agent_key: str  # acts for the first demo agent
    trained: Trained
    at_risk: int
    riskiest: str
    reprioritised: int


def _progress(message: str, fraction: float) -> None:
    print(f"  {fraction:4.0%}  {message}", file=sys.stderr, flush=True)


async def _find_themes(pool: asyncpg.Pool, settings: Settings) -> None:
    """The comment themes, so the console's Themes page and the queue's theme filter have some."""
    print("finding comment themes ...", file=sys.stderr)
    async with pool.acquire() as conn:
        run, started = await themes.request_run(conn, actor="demo")
    if not started:
        print(f"a theme run is {run.status} already; it will finish on its own", file=sys.stderr)
        return
    done = await themes.execute_run(pool, run.id, settings=settings, now=datetime.now(UTC))
    if done is not None:
        print(f"themes: {done.message}", file=sys.stderr)


async def run_demo(settings: Settings, *, customers: int, seed: int) -> Demo:
    assert settings.database_url is not None
    pool = await create_pool(settings, settings.database_url)
    try:
        password = secrets.token_urlsafe(15)
        async with pool.acquire() as conn:
            people = await _people(conn, password)
            if await queries.demo_customers_exist(conn, seed=seed):
                print(f"demo customers (seed {seed}) are there already; reusing them", file=sys.stderr)
            else:
                print(f"simulating {customers} customers and eighteen months of history ...", file=sys.stderr)
                policy = RecoveryPolicy(
                    rules=await load_rules(conn),
                    churn_prior=settings.recovery_churn_prior,
                    high_value=settings.recovery_high_value,
                )
                agents = [person.email for person in people if person.role == "agent"]
                truth = await populate(
                    conn,
                    customers=customers,
                    seed=seed,
                    now=datetime.now(UTC),
                    recovery=policy,
                    agents=agents,
                )
                print(
                    "  wrote " + ", ".join(f"{n} {table}" for table, n in truth.counts.items()),
                    file=sys.stderr,
                )
                await queries.analyze_after_load(conn)
        # activated only if it beats the model serving now, as `POST /v1/models/{v}/activate` decides
        trained = await train_and_register(
            pool, now=datetime.now(UTC), activate=True, force=False, actor="demo", progress=_progress
        )
        print(describe(trained), file=sys.stderr)
        await _find_themes(pool, settings)
        at_risk, riskiest = await _score_everyone(pool, settings)
        reprioritised = await _reprioritise(pool, settings, seed=seed)
        async with pool.acquire() as conn:
            suffix = secrets.token_hex(3)
            crm_admin = await create_api_key(conn, name=f"demo-{suffix}", scopes=["crm", "admin"])
            first_agent = next(person for person in people if person.role == "agent")
            agent = await create_api_key(
                conn, name=f"demo-agent-{suffix}", scopes=["agent"], agent=first_agent.email
            )
    finally:
        await pool.close()
    return Demo(
        people=people,
        password=password,
        crm_admin_key=crm_admin.key,
        agent_key=agent.key,
        trained=trained,
        at_risk=at_risk,
        riskiest=riskiest,
        reprioritised=reprioritised,
    )


async def _people(conn: asyncpg.Connection, password: str) -> list[Person]:
    """The demo's console accounts: created with `password`, or reused as they are."""
    existing = {user.email: user for user in await user_queries.list_users(conn)}
    people = []
    for name, email, role in PEOPLE:
        if email in existing:
            people.append(
                Person(name=existing[email].name, email=email, role=existing[email].role, created=False)
            )
            continue
        try:
            user = await create_user(conn, email=email, name=name, role=role, password=password)
        except Conflict:  # created by someone else meanwhile
            people.append(Person(name=name, email=email, role=role, created=False))
            continue
        people.append(Person(name=user.name, email=user.email, role=user.role, created=True))
    return people


async def _score_everyone(pool: asyncpg.Pool, settings: Settings) -> tuple[int, str]:
    """Score every living customer through the API's own path (stored, at-risk events emitted)."""
    ids = await queries.living_customers(pool)
    scorers = ScorerCache(refresh_seconds=0)
    policy = AtRiskPolicy.from_settings(settings)
    at_risk, best = 0, (-1.0, "")
    for start in range(0, len(ids), MAX_BATCH):
        items = [ScoreItem(customer_id=i) for i in ids[start : start + MAX_BATCH]]
        batch = await scoring.score_batch(pool, scorers, items, at_risk=policy, now=datetime.now(UTC))
        for result in batch.results:
            if result.score is None:
                continue
            at_risk += policy.is_at_risk(result.score)
            best = max(best, (result.score.churn_probability, str(result.customer_id)))
    return at_risk, best[1]


async def _reprioritise(pool: asyncpg.Pool, settings: Settings, *, seed: int) -> int:
    """Open tasks ranked again with their customers' fresh scores, as a new signal would rank them.

    The simulated history had no scores, so its tasks were ranked with the churn prior.
    """
    rules = await load_rules(pool)
    async with pool.acquire() as conn:
        tasks = await queries.open_demo_tasks(conn, seed=seed)
        for task in tasks:
            signals = await task_signals(conn, task["id"], rules)
            if not signals:
                continue
            churn = await latest_churn(conn, task["customer_id"], prior=settings.recovery_churn_prior)
            priority = compute_priority(signals, value=float(task["value"]), churn=churn)
            await recovery_queries.reprioritise_task(
                conn,
                task_id=task["id"],
                trigger=priority.trigger,
                touchpoint=priority.touchpoint,
                critical=priority.critical,
                priority=priority.points,
                reasons=priority.reasons,
                value_at_risk=priority.value_at_risk,
                deadline_at=task["deadline_at"],
                lift_control=False,
            )
    return len(tasks)


def summary(demo: Demo, settings: Settings, *, customers: int) -> str:
    """What the demo made and what to try next, as `feedback-svc demo` prints it."""
    base = settings.base_url
    model = demo.trained.bundle.version
    serving = (
        f"{model} was trained on this data and is active ({demo.trained.activation.reason})."
        if demo.trained.activation is not None
        else f"{model} was trained on this data and registered; the model serving before still serves, "
        f"because {demo.trained.not_activated}"
    )
    created = [person for person in demo.people if person.created]
    accounts = "\n".join(
        f"  {person.email:28} {person.role:8} {person.name}"
        + ("" if person.created else " (existed; unchanged)")
        for person in demo.people
    )
    password = (
        f"Password of the accounts created now (shown only now): {demo.password}"
        if created
        else "The accounts existed already; their passwords are unchanged."
    )
    agent = next(person.email for person in demo.people if person.role == "agent")
    return f"""
The demo is ready: {customers} simulated customers with their interactions, survey answers and
recovery work. Everyone alive was scored: {demo.at_risk} customers are at risk (by default the model
card's critical band), and up to {settings.proactive_tasks_per_day} of them a day, the highest value at
risk first, become proactive tasks once `feedback-svc serve` runs (docs/scheduled-scoring.md);
{demo.reprioritised} open tasks were ranked again with their fresh scores.
Model: {serving}

Console ({base}/console/login):
{accounts}
{password}

API keys (shown only now):
  export KEY={demo.crm_admin_key}     # crm + admin
  export AGENT={demo.agent_key}   # agent, acts for {agent}

Try next (with `feedback-svc serve` running in another terminal):
  curl -s -H "Authorization: Bearer $KEY" {base}/v1/customers/{demo.riskiest}/score
  curl -s -H "Authorization: Bearer $AGENT" "{base}/v1/recovery/tasks?status=open"
  curl -s -X POST -H "Authorization: Bearer $AGENT" -H 'content-type: application/json' -d '{{}}' \\
       {base}/v1/recovery/tasks/claim
  curl -s -H "Authorization: Bearer $KEY" {base}/v1/models
  open {base}/schema for the whole API
"""

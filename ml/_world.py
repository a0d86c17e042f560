"""The simulated world behind `ml.simulator`: numpy only, no database.

Time is a float number of days since the service went live (t = 0); `now` is
t = periods * period_days. The world moves in periods as long as the churn
horizon, so every period boundary is a possible training cut-off: at a boundary
each living customer gets a true churn probability for the next period, computed
from what happened up to that boundary (the same windows the feature SQL reads)
plus a little the service can never see (a latent satisfaction and a frailty).
"""

from dataclasses import dataclass, field

import numpy as np

from ml._truth import BoundaryState, churn_logit

TOUCHPOINTS = ("support_call", "delivery", "billing", "account_change", "onboarding")
ONBOARDING = 4
# how often each touchpoint happens; onboarding comes once, at sign-up
_TOUCHPOINT_SHARE = np.array([0.35, 0.30, 0.20, 0.15])
KINDS = ("nps", "csat", "ces")
NPS, CSAT, CES = 0, 1, 2
# which survey follows which touchpoint (index into KINDS)
SURVEY_OF_TOUCHPOINT = np.array([CSAT, CES, CSAT, CES, NPS])
SCALE_LOW = np.array([0, 1, 1])
SCALE_HIGH = np.array([10, 5, 7])
# CES runs the other way round: 1 = very easy, 7 = very difficult (as the surveys ask it)
EFFORT_SCALE = np.array([False, False, True])
# unhappy when the "goodness" (the score, CES turned round) is at or below this:
# NPS detractor 0-6, CSAT 1-2, CES 6-7
UNHAPPY_AT = np.array([6, 2, 2])
SEGMENTS = ("consumer", "smb", "enterprise")
PLANS = ("basic", "plus", "premium")
REGIONS = ("north", "south", "east", "west", "central")
CHANNELS = ("email", "sms", "web")
INVITATION_STATUSES = ("answered", "expired", "sent", "suppressed", "failed")
EVENT_KINDS = ("purchase", "renewed", "downgraded", "upgraded", "churned")
OUTCOMES = ("recovered", "not_recovered", "unreachable")
INVITE_EXPIRES_DAYS = 14.0
ANSWER_WINDOW_DAYS = 7.0


@dataclass(kw_only=True)
class Customers:
    signup: np.ndarray
    created: np.ndarray
    segment: np.ndarray
    plan: np.ndarray
    tickets: np.ndarray
    seats: np.ndarray
    region: np.ndarray
    newsletter: np.ndarray
    value: np.ndarray
    s0: np.ndarray
    engagement: np.ndarray
    frailty: np.ndarray


@dataclass
class Table:
    """Columns of one table, grown a period at a time, joined by `finish`."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self.parts.setdefault(name, []).append(np.asarray(values))
        self.columns = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if not self.columns:
            self.columns = {key: np.concatenate(values) for key, values in self.parts.items()}
        return self.columns[name]

    def __len__(self) -> int:
        return int(sum(len(part) for part in next(iter(self.parts.values()), [])))


@dataclass(kw_only=True)
class World:
    periods: int
    period_days: float
    customers: Customers
    interactions: Table
    invitations: Table
    responses: Table
    events: Table
    tasks: Table
    # boundary time -> (customer indices alive then, true churn probability in the next period)
    truth: dict[float, tuple[np.ndarray, np.ndarray]]

    @property
    def now(self) -> float:
        return self.periods * self.period_days


def simulate_world(*, customers: int, seed: int, periods: int, period_days: float) -> World:
    """Run the whole history; the same arguments always give the same world."""
    return _Simulation(customers, np.random.default_rng(seed), periods, period_days).run()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _make_customers(n: int, rng: np.random.Generator, horizon: float) -> Customers:
    existing = rng.random(n) < 0.65
    # the installed base signed up long before the service went live; newcomers arrive all along
    signup = np.where(existing, -rng.uniform(20, 1500, n), rng.uniform(0, horizon - 3, n))
    s0 = rng.normal(0, 1, n)
    segment = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    plan = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    tickets = np.minimum(rng.poisson(np.exp(0.15 - 0.45 * s0 + 0.3 * (segment == 2))), 15)
    seats = np.select([segment == 0, segment == 1], [1, 2 + rng.poisson(8, n)], 10 + rng.poisson(60, n))
    value = np.exp(rng.normal(6.2, 0.7, n)) * np.array([1.0, 1.8, 3.5])[plan] * np.array([1, 3, 12])[segment]
    return Customers(
        signup=signup,
        created=np.maximum(signup, 0.0),
        segment=segment,
        plan=plan,
        tickets=tickets,
        seats=seats,
        region=rng.choice(len(REGIONS), n),
        newsletter=rng.random(n) < 0.4,
        value=np.round(value, 2),
        s0=s0,
        engagement=rng.normal(0, 0.8, n),
        frailty=rng.normal(0, 0.35, n),
    )


class _Simulation:
    def __init__(self, n: int, rng: np.random.Generator, periods: int, period_days: float) -> None:
        self.n = n
        self.rng = rng
        self.periods = periods
        self.p = period_days
        self.c = _make_customers(n, rng, periods * period_days)
        self.churn_t = np.full(n, np.inf)
        self.drift = np.zeros(n)  # satisfaction = s0 + drift
        self.last_task_end = np.full(n, -np.inf)
        self.interactions = Table()
        self.invitations = Table()
        self.responses = Table()
        self.events = Table()
        self.tasks = Table()
        self.truth: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def satisfaction(self) -> np.ndarray:
        return self.c.s0 + self.drift

    def run(self) -> World:
        for k in range(self.periods):
            t0, t1 = k * self.p, (k + 1) * self.p
            self._decide_churn(t0)
            start = np.maximum(t0, self.c.signup)
            end = np.minimum(t1, self.churn_t)
            active = start < end
            self._evolve_satisfaction(active)
            first = self._interactions(active, start, end, t0)
            self._recovery(self._surveys(first, active, start, end))
            self._commerce(active, start, end)
        return World(
            periods=self.periods,
            period_days=self.p,
            customers=self.c,
            interactions=self.interactions,
            invitations=self.invitations,
            responses=self.responses,
            events=self.events,
            tasks=self.tasks,
            truth=self.truth,
        )

    def _decide_churn(self, t0: float) -> None:
        alive = np.flatnonzero((self.c.signup <= t0) & (self.churn_t > t0))
        state = BoundaryState.observe(self, t0)
        logit = churn_logit(state, self.c, self.satisfaction)[alive]
        probability = _sigmoid(logit)
        self.truth[t0] = (alive, probability)
        churns = self.rng.random(alive.size) < probability
        self.churn_t[alive[churns]] = t0 + self.rng.uniform(0.5, self.p - 0.5, churns.sum())
        who = alive[churns]
        self.events.add(
            customer=who,
            kind=np.full(who.size, EVENT_KINDS.index("churned")),
            time=self.churn_t[who],
            amount=np.full(who.size, np.nan),
        )

    def _evolve_satisfaction(self, active: np.ndarray) -> None:
        # mood drifts and partly recovers; failures and recoveries add to it as they happen
        self.drift = np.where(active, 0.6 * self.drift + self.rng.normal(0, 0.5, self.n), self.drift)

    def _interactions(self, active: np.ndarray, start: np.ndarray, end: np.ndarray, t0: float) -> int:
        rng, c = self.rng, self.c
        span = np.where(active, end - start, 0.0) / self.p
        rate = 3.0 * np.array([1.0, 1.3, 1.6])[c.segment] * np.exp(0.15 * c.engagement) * span
        count = rng.poisson(rate)
        who = np.repeat(np.arange(self.n), count)
        time = start[who] + rng.random(who.size) * (end[who] - start[who])
        touchpoint = rng.choice(4, who.size, p=_TOUCHPOINT_SHARE)
        # tickets piling up in the CRM show as more support calls
        more_calls = rng.random(who.size) < np.minimum(0.05 * c.tickets[who], 0.4)
        touchpoint = np.where(more_calls, 0, touchpoint)
        newcomers = np.flatnonzero(active & (c.signup >= t0))
        who = np.concatenate([who, newcomers])
        time = np.concatenate([time, c.signup[newcomers] + rng.uniform(0.1, 3, newcomers.size)])
        time = np.minimum(time, end[who] - 1e-3)
        touchpoint = np.concatenate([touchpoint, np.full(newcomers.size, ONBOARDING)])
        critical = (touchpoint == ONBOARDING) | (rng.random(who.size) < 0.12)
        mood = self.satisfaction[who]
        failed = rng.random(who.size) < _sigmoid(-1.6 - 0.7 * mood + 0.4 * critical)
        first = len(self.interactions)
        self.interactions.add(
            customer=who, time=time, touchpoint=touchpoint, critical=critical, failed=failed, mood=mood
        )
        np.add.at(self.drift, who, -np.where(critical, 0.6, 0.25) * failed)
        return first

    def _surveys(self, first: int, active: np.ndarray, start: np.ndarray, end: np.ndarray) -> int:
        """Invite after most interactions; returns where this period's answers start."""
        rng = self.rng
        index = np.arange(first, len(self.interactions))
        invited = index[rng.random(index.size) < 0.8]
        who = self.interactions["customer"][invited]
        kind = SURVEY_OF_TOUCHPOINT[self.interactions["touchpoint"][invited]]
        created = self.interactions["time"][invited] + 1 / 24
        mood = self.interactions["mood"][invited] - 1.6 * self.interactions["failed"][invited]
        # the relationship NPS survey: once a period for most customers, not tied to an interaction
        rel = np.flatnonzero(active & (rng.random(self.n) < 0.6))
        rel_time = start[rel] + rng.random(rel.size) * (end[rel] - start[rel])
        had_failure = np.zeros(self.n, dtype=bool)
        failed_now = self.interactions["failed"][index]
        had_failure[self.interactions["customer"][index][failed_now]] = True
        first_response = len(self.responses)
        self._invite(
            who=np.concatenate([who, rel]),
            interaction=np.concatenate([invited, np.full(rel.size, -1)]),
            kind=np.concatenate([kind, np.full(rel.size, NPS)]),
            created=np.concatenate([created, rel_time]),
            mood=np.concatenate([mood, self.satisfaction[rel] - 0.5 * had_failure[rel]]),
        )
        return first_response

    def _invite(
        self,
        *,
        who: np.ndarray,
        interaction: np.ndarray,
        kind: np.ndarray,
        created: np.ndarray,
        mood: np.ndarray,
    ) -> None:
        rng, now = self.rng, self.periods * self.p
        size = who.size
        roll = rng.random(size)
        suppressed, failed = roll < 0.04, (roll >= 0.04) & (roll < 0.05)
        sent = np.where(suppressed | failed, np.nan, created + rng.uniform(0, 0.05, size))
        expires = created + INVITE_EXPIRES_DAYS
        c = self.c
        answers = _sigmoid(0.2 + 0.5 * mood + c.engagement[who] - 0.2 * (kind == NPS)) > rng.random(size)
        answered = sent + np.minimum(rng.exponential(0.7, size), ANSWER_WINDOW_DAYS - 0.1)
        answers &= ~np.isnan(sent) & (answered < np.minimum(self.churn_t[who], now))
        quality = mood + rng.normal(0, 0.7, size)
        middle = np.array([7.2, 3.9, 5.2])[kind] + np.array([1.7, 0.85, 1.1])[kind] * quality
        good = np.clip(np.round(middle), SCALE_LOW[kind], SCALE_HIGH[kind]).astype(int)
        unhappy = good <= UNHAPPY_AT[kind]
        score = np.where(EFFORT_SCALE[kind], SCALE_LOW[kind] + SCALE_HIGH[kind] - good, good)
        status = np.select(
            [suppressed, failed, answers, expires <= now],
            [INVITATION_STATUSES.index(s) for s in ("suppressed", "failed", "answered", "expired")],
            INVITATION_STATUSES.index("sent"),
        )
        first = len(self.invitations)
        self.invitations.add(
            customer=who,
            interaction=interaction,
            kind=kind,
            created=created,
            sent=sent,
            expires=expires,
            status=status,
            channel=rng.choice(3, size, p=[0.6, 0.3, 0.1]),
        )
        take = np.flatnonzero(answers)
        self.responses.add(
            invitation=first + take,
            customer=who[take],
            interaction=interaction[take],
            kind=kind[take],
            score=score[take],
            answered=answered[take],
            unhappy=unhappy[take],
            contact=unhappy[take] & (rng.random(take.size) < 0.35),
            comment=np.where(rng.random(take.size) < 0.25, rng.integers(0, 4, take.size), -1),
        )

    def _recovery(self, first_response: int) -> None:
        """The recovery team opens a task after an unhappy answer; some win the customer back."""
        rng, r = self.rng, self.responses
        if len(r) == first_response:
            return
        candidates = np.arange(first_response, len(r))
        trigger = candidates[r["unhappy"][candidates] | r["contact"][candidates]]
        trigger = trigger[rng.random(trigger.size) < 0.75]
        trigger = trigger[np.argsort(r["answered"][trigger], kind="stable")]
        who = r["customer"][trigger]
        _, first_of_customer = np.unique(who, return_index=True)
        trigger, who = trigger[first_of_customer], who[first_of_customer]
        created = r["answered"][trigger] + 5 / 1440
        keep = created > self.last_task_end[who]
        trigger, who, created = trigger[keep], who[keep], created[keep]
        resolved = created + rng.uniform(1, 14, who.size)
        contact = r["contact"][trigger]
        roll = rng.random(who.size)
        outcome = np.where(roll < 0.35 + 0.15 * contact, 0, np.where(roll < 0.75 + 0.1 * contact, 1, 2))
        now = self.periods * self.p
        still_open = resolved > now
        self.last_task_end[who] = resolved
        self.tasks.add(
            customer=who,
            response=trigger,
            created=created,
            first_contact=np.where(still_open, np.nan, created + rng.uniform(0.05, 1, who.size)),
            resolved=np.where(still_open, np.nan, resolved),
            outcome=np.where(still_open, -1, outcome),
        )
        # a customer won back is happier from then on
        won = who[(outcome == 0) & ~still_open]
        self.drift[won] += 0.8

    def _commerce(self, active: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        rng, c = self.rng, self.c
        span = np.where(active, end - start, 0.0) / self.p
        mood = self.satisfaction
        rate = 0.9 * span * np.exp(0.35 * mood) * np.array([0.8, 1.0, 1.3])[c.plan]
        count = rng.poisson(rate)
        who = np.repeat(np.arange(self.n), count)
        time = start[who] + rng.random(who.size) * (end[who] - start[who])
        amount = np.round(np.exp(rng.normal(3.5, 0.6, who.size)) * np.array([1, 1.5, 2.5])[c.plan[who]], 2)
        # a renewal at each yearly anniversary of the sign-up
        years = np.ceil((start - c.signup) / 365.0)
        anniversary = c.signup + 365.0 * years
        renews = np.flatnonzero(active & (anniversary >= start) & (anniversary < end))
        down = np.flatnonzero(active & (rng.random(self.n) < span * _sigmoid(-3.2 - 0.8 * mood)))
        up = np.flatnonzero(active & (rng.random(self.n) < span * _sigmoid(-3.5 + 0.6 * mood)))
        some_time = start + rng.random(self.n) * (end - start)
        kinds = [EVENT_KINDS.index(k) for k in ("purchase", "renewed", "downgraded", "upgraded")]
        self.events.add(
            customer=np.concatenate([who, renews, down, up]),
            kind=np.repeat(kinds, [who.size, renews.size, down.size, up.size]),
            time=np.concatenate([time, anniversary[renews], some_time[down], some_time[up]]),
            amount=np.concatenate([amount, np.full(renews.size + down.size + up.size, np.nan)]),
        )

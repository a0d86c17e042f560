"""The simulator's ground truth: why a simulated customer churns.

The causes are the ones the product cares about: bad and falling scores, detractor
answers, moments of truth that went wrong, new customers, open support tickets
in the CRM, the plan, silence (unanswered surveys, no contact), and what the
recovery team did. Most are observable through the feature SQL (same windows,
same definitions); a latent satisfaction, unreported failures and a frailty term
are not, so even a perfect learner stays a little below the oracle.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from ml._world import Customers, Table

# the base rate: about one customer in eight churns in a 90-day period
_INTERCEPT = -3.3
_PLAN_EFFECT = np.array([0.30, 0.0, -0.40])  # basic, plus, premium
# (score - low) / span maps each scale to 0 (worst) .. 1 (best); CES 7 is the
# worst (very difficult), hence its negative span: (7 - score) / 6
_NORMALISE_LOW = np.array([0.0, 1.0, 7.0])
_NORMALISE_SPAN = np.array([10.0, 4.0, -6.0])


class _Source(Protocol):
    n: int
    p: float
    c: "Customers"
    interactions: "Table"
    invitations: "Table"
    responses: "Table"
    events: "Table"
    tasks: "Table"


@dataclass(kw_only=True)
class BoundaryState:
    """What happened up to a boundary t0, per customer (NaN where nothing did)."""

    latest_nps: np.ndarray
    detractors: np.ndarray
    lowest: np.ndarray
    unhappy_critical: np.ndarray
    failed_critical: np.ndarray
    contact_requests: np.ndarray
    recovered: np.ndarray
    not_recovered: np.ndarray
    purchases: np.ndarray
    renewals: np.ndarray
    non_response: np.ndarray
    days_since_interaction: np.ndarray
    tenure: np.ndarray

    @classmethod
    def observe(cls, sim: _Source, t0: float) -> "BoundaryState":
        n, window = sim.n, t0 - sim.p
        zeros = np.zeros(n)
        state = cls(
            latest_nps=np.full(n, np.nan),
            detractors=zeros.copy(),
            lowest=np.full(n, np.nan),
            unhappy_critical=zeros.copy(),
            failed_critical=zeros.copy(),
            contact_requests=zeros.copy(),
            recovered=zeros.copy(),
            not_recovered=zeros.copy(),
            purchases=zeros.copy(),
            renewals=zeros.copy(),
            non_response=np.full(n, np.nan),
            days_since_interaction=np.full(n, np.nan),
            tenure=t0 - sim.c.signup,
        )
        if len(sim.responses):
            state._observe_answers(sim, t0, window)
        if len(sim.interactions):
            state._observe_interactions(sim, t0, window)
        if len(sim.invitations):
            state._observe_invitations(sim, t0, window)
        if len(sim.tasks):
            outcome, resolved = sim.tasks["outcome"], sim.tasks["resolved"]
            done = resolved <= t0
            state.recovered = _count(sim.tasks["customer"], done & (outcome == 0), n)
            state.not_recovered = _count(sim.tasks["customer"], done & (outcome == 1), n)
        events = sim.events
        if len(events):
            recent = (events["time"] > window) & (events["time"] <= t0)
            state.purchases = _count(events["customer"], recent & (events["kind"] == 0), n)
            state.renewals = _count(events["customer"], recent & (events["kind"] == 1), n)
        return state

    def _observe_answers(self, sim: _Source, t0: float, window: float) -> None:
        r, n = sim.responses, sim.n
        time, who, kind, score = r["answered"], r["customer"], r["kind"], r["score"]
        seen = time <= t0
        recent = seen & (time > window)
        nps = np.flatnonzero(seen & (kind == 0))
        latest = nps[np.argsort(-time[nps], kind="stable")]
        customers, first = np.unique(who[latest], return_index=True)
        self.latest_nps[customers] = score[latest[first]]
        self.detractors = _count(who, recent & (kind == 0) & (score <= 6), n)
        normalised = (score - _NORMALISE_LOW[kind]) / _NORMALISE_SPAN[kind]
        lowest = np.full(n, np.inf)
        np.minimum.at(lowest, who[recent], normalised[recent])
        self.lowest = np.where(np.isinf(lowest), np.nan, lowest)
        interaction = r["interaction"]
        critical = np.zeros(who.size, dtype=bool)
        linked = interaction >= 0
        critical[linked] = sim.interactions["critical"][interaction[linked]]
        self.unhappy_critical = _count(who, recent & critical & r["unhappy"], n)
        self.contact_requests = _count(who, recent & r["contact"], n)

    def _observe_interactions(self, sim: _Source, t0: float, window: float) -> None:
        i, n = sim.interactions, sim.n
        time = i["time"]
        seen = time <= t0
        self.failed_critical = _count(i["customer"], seen & (time > window) & i["critical"] & i["failed"], n)
        last = np.full(n, -np.inf)
        np.maximum.at(last, i["customer"][seen], time[seen])
        self.days_since_interaction = np.where(np.isinf(last), np.nan, t0 - last)

    def _observe_invitations(self, sim: _Source, t0: float, window: float) -> None:
        v, n = sim.invitations, sim.n
        # closed: sent in the window and expired by t0, so answered-or-not is final
        closed = (v["created"] > window) & (v["sent"] <= t0) & (v["expires"] <= t0)
        answered = np.zeros(len(v), dtype=bool)
        if len(sim.responses):
            r = sim.responses
            answered[r["invitation"][r["answered"] <= t0]] = True
        total = _count(v["customer"], closed, n)
        missed = _count(v["customer"], closed & ~answered, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.non_response = np.where(total > 0, missed / total, np.nan)


def _count(who: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(who[mask], minlength=n).astype(float)


def churn_logit(state: BoundaryState, customers: "Customers", satisfaction: np.ndarray) -> np.ndarray:
    """The true log-odds of churning in the next period, for every customer."""
    s = state
    score_part = np.where(np.isnan(s.latest_nps), 0.25, 0.20 * (7 - s.latest_nps))
    lowest_part = np.where(np.isnan(s.lowest), 0.0, 1.2 * (0.5 - s.lowest))
    silence = np.where(np.isnan(s.non_response), 0.1, 0.9 * (s.non_response - 0.4))
    idle = np.where(np.isnan(s.days_since_interaction), 0.25, 0.25 * (s.days_since_interaction > 45))
    return (
        _INTERCEPT
        + score_part
        + 0.30 * np.minimum(s.detractors, 3)
        + lowest_part
        + 0.55 * np.minimum(s.unhappy_critical, 3)
        + 0.30 * np.minimum(s.failed_critical, 3)
        + 0.15 * np.minimum(s.contact_requests, 3)
        - 0.45 * np.minimum(s.recovered, 2)
        + 0.30 * np.minimum(s.not_recovered, 2)
        + 1.3 * np.exp(-np.maximum(s.tenure, 0) / 150)
        + 0.16 * np.minimum(customers.tickets, 10)
        + _PLAN_EFFECT[customers.plan]
        - 0.22 * np.minimum(s.purchases, 4)
        - 0.50 * (s.renewals > 0)
        + silence
        + idle
        - 0.30 * satisfaction
        + customers.frailty
    )

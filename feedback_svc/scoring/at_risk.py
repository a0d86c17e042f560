"""Which scores are at risk: the rule every path that stores scores applies.

By default the active model's card decides: a score in its `critical` band (churn probability
at or over the band's lower edge, the top 5% of its holdout) is at risk, whatever that edge is
for this model. A fixed 0.5 opened tasks for 4 of 1,500 demo customers while the model's own top
band started at 0.22. With FEEDBACK_PROACTIVE_MIN_VALUE_AT_RISK the rule is money instead: value
at risk (the CRM's value, or the expected value over the horizon, x churn probability) at or
over that amount. FEEDBACK_AT_RISK_THRESHOLD, when set, overrides both with a fixed churn
probability.
"""

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from feedback_svc.settings import Settings
from ml.scorer import Scorer

CRITICAL = "critical"
RuleKind = Literal["risk_band", "churn_probability", "value_at_risk"]


class Scored(Protocol):
    """A score as the rule reads it: the model's or the wire's."""

    @property
    def churn_probability(self) -> float: ...
    @property
    def value_at_risk(self) -> float: ...
    @property
    def risk_band(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AtRiskPolicy:
    """The deployment's choice; `rule(scorer)` makes it concrete for one model."""

    threshold: float | None = None
    min_value_at_risk: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "AtRiskPolicy":
        return cls(
            threshold=settings.at_risk_threshold, min_value_at_risk=settings.proactive_min_value_at_risk
        )

    @classmethod
    def from_rule(cls, rule: dict[str, Any]) -> "AtRiskPolicy":
        """The policy a stored rule (`rule()`) was made from: a run keeps the one it started with."""
        if rule["kind"] == "churn_probability":
            return cls(threshold=float(rule["threshold"]))
        if rule["kind"] == "value_at_risk":
            return cls(min_value_at_risk=float(rule["threshold"]))
        return cls()

    @property
    def kind(self) -> RuleKind:
        if self.threshold is not None:
            return "churn_probability"
        if self.min_value_at_risk is not None:
            return "value_at_risk"
        return "risk_band"

    def is_at_risk(self, score: Scored) -> bool:
        if self.threshold is not None:
            return score.churn_probability >= self.threshold
        if self.min_value_at_risk is not None:
            return score.value_at_risk >= self.min_value_at_risk
        return score.risk_band == CRITICAL

    def rule(self, scorer: Scorer) -> dict[str, Any]:
        """What the rule is for this model, in numbers and words (stored on each scoring run)."""
        if self.threshold is not None:
            return {
                "kind": "churn_probability",
                "threshold": self.threshold,
                "text": f"churn probability at or over {self.threshold:g} (FEEDBACK_AT_RISK_THRESHOLD)",
            }
        if self.min_value_at_risk is not None:
            return {
                "kind": "value_at_risk",
                "threshold": self.min_value_at_risk,
                "text": f"value at risk (value x churn probability) at or over {self.min_value_at_risk:,.2f} "
                "(FEEDBACK_PROACTIVE_MIN_VALUE_AT_RISK)",
            }
        floor = scorer.band_floor(CRITICAL)
        return {
            "kind": "risk_band",
            "threshold": floor,
            "text": f"risk band critical: churn probability at or over {floor:.4f} "
            f"(model {scorer.version}'s card)",
        }

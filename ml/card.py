"""The model card: what a trained bundle is, what it was trained on, how well it did.

Structs serialise to JSON with `card_to_json` (stored in the `models.card` column
and next to the shipped artifact); `render_markdown` gives the same for people.
Fields added since the first cards have defaults, so every card ever stored still loads.
"""

from collections.abc import Sequence
from datetime import datetime

import msgspec
import numpy as np

# docs/churn-labels.md
LABEL_WORDS = {
    "contractual": "churned: a `churned` event within {days} days after a cut-off (contractual).",
    "non_contractual": "churned: no purchase within {days} days after a cut-off, among customers who "
    "had bought before it (non-contractual).",
}
LOYALTY_INDEX_FORMULA = (
    "loyalty_index = round(100 * sqrt(P(promoter) * (1 - P(churn)))): the geometric mean of "
    "attitudinal loyalty (would recommend: NPS 9-10) and behavioural loyalty (stays), "
    "0-100; high only when both are high"
)


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    brier: float
    expected_calibration_error: float
    lift_top_decile: float


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """`validation`: every training window after the first, each predicted by the candidate
    fitted on the windows before it (what the choice was made on); `holdout`: refitted on every
    training window, judged on the later holdout (the chosen candidate only). Cards before
    validation existed have only `holdout`."""

    name: str
    description: str
    holdout: Metrics | None = None
    validation: Metrics | None = None


class ModelSection(msgspec.Struct, frozen=True, kw_only=True):
    """One calibrated output (churn or loyalty) and the candidates it was chosen from."""

    target: str
    chosen: str
    candidates: list[Candidate]
    train_rows: int
    train_positives: int

    @property
    def holdout(self) -> Metrics:
        found = next(c.holdout for c in self.candidates if c.name == self.chosen)
        assert found is not None, "the chosen candidate always has holdout figures"
        return found


class RiskBand(msgspec.Struct, frozen=True, kw_only=True):
    """A churn probability p is in the last band whose `min_probability` <= p (`band_index`):
    the exact edge the scorer serves by, never rounded."""

    name: str
    min_probability: float
    holdout_share: float
    holdout_churn_rate: float


def band_index(edges: Sequence[float], probabilities: np.ndarray) -> np.ndarray:
    """For each probability, the index of its band: how many of the bands above the first
    (`edges`, ascending) start at or below it. Training and serving both band through here."""
    return np.searchsorted(np.asarray(edges, dtype=float), probabilities, side="right")


class FeatureInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    source: str


class DataWindow(msgspec.Struct, frozen=True, kw_only=True):
    horizon_days: int
    train_cutoffs: list[datetime]
    holdout_cutoff: datetime
    # what churn meant (docs/churn-labels.md); the first cards were all contractual
    labels: str = "contractual"
    # the first training window candidates were judged on (None: chosen on the holdout, early cards)
    validation_cutoff: datetime | None = None
    # the served models were refitted with the holdout window too (the figures are of the
    # models fitted without it, kept in the bundle as the evaluated ones)
    served_with_holdout: bool = False


class LifetimeValueInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The purchase-history (BTYD) model in the bundle, or why there is none."""

    horizon_days: int
    available: bool
    reason: str | None = None
    customers: int = 0
    repeat_buyers: int = 0
    parameters: dict[str, float] = {}


class ModelCard(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    kind: str
    created_at: datetime
    data: DataWindow
    churn: ModelSection
    # None when there were too few NPS answers to learn from; `loyalty_unavailable` says so
    loyalty: ModelSection | None
    risk_bands: list[RiskBand]
    features: list[FeatureInfo]
    loyalty_index: str
    versions: dict[str, str]
    intended_use: str
    limitations: list[str]
    loyalty_unavailable: str | None = None
    lifetime_value: LifetimeValueInfo | None = None

    def metrics(self) -> dict[str, dict[str, float]]:
        """The figures for the `models.metrics` column (no `loyalty` without a loyalty model)."""
        figures = {"churn": msgspec.to_builtins(self.churn.holdout)}
        if self.loyalty is not None:
            figures["loyalty"] = msgspec.to_builtins(self.loyalty.holdout)
        return figures

    def band_edges(self) -> list[float]:
        """The lower edges of every band above the first, ascending, as stored."""
        return [band.min_probability for band in self.risk_bands[1:]]


def card_to_json(card: ModelCard) -> bytes:
    return msgspec.json.format(msgspec.json.encode(card), indent=2)


def card_from_json(data: bytes | str) -> ModelCard:
    return msgspec.json.decode(data, type=ModelCard)


def render_markdown(card: ModelCard) -> str:
    """The card for people: README-style, one table per section."""
    d = card.data
    loyalty = (
        f"- Loyalty: {card.loyalty.train_rows} training NPS answers, "
        f"{card.loyalty.train_positives} promoters."
        if card.loyalty is not None
        else f"- Loyalty: not available: {card.loyalty_unavailable}"
    )
    lines = [
        f"# Model card: {card.kind} {card.version}",
        "",
        f"Trained {card.created_at:%Y-%m-%d %H:%M} UTC. {card.intended_use}",
        "",
        "## Data",
        "",
        f"- Label: {LABEL_WORDS.get(d.labels, d.labels).format(days=d.horizon_days)}",
        f"- Training cut-offs: {', '.join(f'{c:%Y-%m-%d}' for c in d.train_cutoffs)}.",
        *(
            [
                "- Candidates chosen on the training windows from "
                f"{d.validation_cutoff:%Y-%m-%d} on, each predicted by a model fitted on the "
                "windows before it."
            ]
            if d.validation_cutoff is not None
            else []
        ),
        f"- Holdout cut-off (a later period, never seen in training): {d.holdout_cutoff:%Y-%m-%d}.",
        *(
            [
                "- Served: the chosen models refitted once more with the holdout window; every figure "
                "here is of the models fitted without it."
            ]
            if d.served_with_holdout
            else []
        ),
        f"- Churn: {card.churn.train_rows} training rows, {card.churn.train_positives} churned.",
        loyalty,
        "",
    ]
    for section in (card.churn, card.loyalty):
        if section is not None:
            lines += [f"## {section.target} (chosen: {section.chosen})", "", *_metrics_table(section), ""]
    if card.lifetime_value is not None:
        lines += ["## Lifetime value", "", *_lifetime_value_lines(card.lifetime_value), ""]
    lines += [
        "## Risk bands",
        "",
        "| band | churn probability from | holdout share | holdout churn rate |",
        "| --- | --- | --- | --- |",
        *(
            f"| {b.name} | {b.min_probability:.4f} | {b.holdout_share:.1%} | {b.holdout_churn_rate:.1%} |"
            for b in card.risk_bands
        ),
        "",
        "## Loyalty index",
        "",
        card.loyalty_index,
        "",
        f"## Features ({len(card.features)})",
        "",
        "| name | meaning | source |",
        "| --- | --- | --- |",
        *(f"| `{f.name}` | {f.label} | {f.source} |" for f in card.features),
        "",
        "## Limitations",
        "",
        *(f"- {text}" for text in card.limitations),
        "",
        "## Versions",
        "",
        *(f"- {name}: {version}" for name, version in sorted(card.versions.items())),
        "",
    ]
    return "\n".join(lines)


def _metrics_table(section: ModelSection) -> list[str]:
    rows = [
        "| candidate | judged on | ROC AUC | PR AUC | Brier | ECE | lift top 10% | rows | positives |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in section.candidates:
        chosen = " (chosen)" if c.name == section.chosen else ""
        for where, m in (("validation", c.validation), ("holdout", c.holdout)):
            if m is not None:
                rows.append(
                    f"| {c.name}{chosen} | {where} | {m.roc_auc:.4f} | {m.pr_auc:.4f} | {m.brier:.4f} "
                    f"| {m.expected_calibration_error:.4f} | {m.lift_top_decile:.2f} | {m.rows} "
                    f"| {m.positives} |"
                )
    rows += ["", *(f"- {c.name}: {c.description}" for c in section.candidates)]
    return rows


def _lifetime_value_lines(info: LifetimeValueInfo) -> list[str]:
    if not info.available:
        return [f"Not available: {info.reason}"]
    parameters = ", ".join(f"{name} = {value:.4g}" for name, value in info.parameters.items())
    lines = [
        f"BG/NBD and Gamma-Gamma (ml/clv.py) over {info.horizon_days} days, fitted on the purchase "
        f"histories of {info.customers} customers as of the training run ({info.repeat_buyers} with a "
        f"repeat purchase): {parameters}. Each training window's purchase-rhythm feature came from "
        "the same models fitted on what was known at its own cut-off."
    ]
    return lines if info.reason is None else [*lines, "", f"Note: {info.reason}"]

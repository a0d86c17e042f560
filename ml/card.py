"""The model card: what a trained bundle is, what it was trained on, how well it did.

Structs serialise to JSON with `card_to_json` (stored in the `models.card` column
and next to the shipped artifact); `render_markdown` gives the same for people.
"""

from datetime import datetime

import msgspec

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
    name: str
    description: str
    holdout: Metrics


class ModelSection(msgspec.Struct, frozen=True, kw_only=True):
    """One calibrated output (churn or loyalty) and the candidates it was chosen from."""

    target: str
    chosen: str
    candidates: list[Candidate]
    train_rows: int
    train_positives: int

    @property
    def holdout(self) -> Metrics:
        return next(c.holdout for c in self.candidates if c.name == self.chosen)


class RiskBand(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    min_probability: float
    holdout_share: float
    holdout_churn_rate: float


class FeatureInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    source: str


class DataWindow(msgspec.Struct, frozen=True, kw_only=True):
    horizon_days: int
    train_cutoffs: list[datetime]
    holdout_cutoff: datetime


class ModelCard(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    kind: str
    created_at: datetime
    data: DataWindow
    churn: ModelSection
    loyalty: ModelSection
    risk_bands: list[RiskBand]
    features: list[FeatureInfo]
    loyalty_index: str
    versions: dict[str, str]
    intended_use: str
    limitations: list[str]

    def metrics(self) -> dict[str, object]:
        """The figures for the `models.metrics` column."""
        return {
            "churn": msgspec.to_builtins(self.churn.holdout),
            "loyalty": msgspec.to_builtins(self.loyalty.holdout),
        }


def card_to_json(card: ModelCard) -> bytes:
    return msgspec.json.format(msgspec.json.encode(card), indent=2)


def card_from_json(data: bytes | str) -> ModelCard:
    return msgspec.json.decode(data, type=ModelCard)


def render_markdown(card: ModelCard) -> str:
    """The card for people: README-style, one table per section."""
    d = card.data
    lines = [
        f"# Model card: {card.kind} {card.version}",
        "",
        f"Trained {card.created_at:%Y-%m-%d %H:%M} UTC. {card.intended_use}",
        "",
        "## Data",
        "",
        f"- Label: churned within {d.horizon_days} days after a cut-off (customer_events kind `churned`).",
        f"- Training cut-offs: {', '.join(f'{c:%Y-%m-%d}' for c in d.train_cutoffs)}.",
        f"- Holdout cut-off (a later period, never seen in training): {d.holdout_cutoff:%Y-%m-%d}.",
        f"- Churn: {card.churn.train_rows} training rows, {card.churn.train_positives} churned.",
        f"- Loyalty: {card.loyalty.train_rows} training NPS answers, "
        f"{card.loyalty.train_positives} promoters.",
        "",
    ]
    for section in (card.churn, card.loyalty):
        lines += [f"## {section.target} (chosen: {section.chosen})", "", *_metrics_table(section), ""]
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
        "| candidate | ROC AUC | PR AUC | Brier | ECE | lift top 10% | holdout rows | positives |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in section.candidates:
        m = c.holdout
        rows.append(
            f"| {c.name}{' (chosen)' if c.name == section.chosen else ''} | {m.roc_auc:.4f} | {m.pr_auc:.4f} "
            f"| {m.brier:.4f} | {m.expected_calibration_error:.4f} | {m.lift_top_decile:.2f} | {m.rows} "
            f"| {m.positives} |"
        )
    rows += ["", *(f"- {c.name}: {c.description}" for c in section.candidates)]
    return rows

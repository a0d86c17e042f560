"""Training: labels from customer events, a time-based split, two calibrated models.

Cut-offs step back from `now` by the horizon: the holdout cut-off is
now - horizon (its window has fully happened), training cut-offs are the
`train_cutoffs` windows before it, stacked (a customer alive at several appears
once per cut-off). Features are read as of each cut-off with the serving query.

Churn: did the customer churn within the horizon after the cut-off. Loyalty:
is the customer's first NPS answer in that window a 9-10 (trained on customers
who answered, predicted for everyone). For each, a scaled logistic regression
and an additive gradient-boosted model are calibrated (Platt, cross-validated
by customer) and the one with the lower holdout Brier score is kept. The kept
models are the ones evaluated: the card's figures are honest out-of-time
numbers, at the price of not learning from the holdout window.
"""

import hashlib
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version as package_version

import asyncpg
import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ml.bundle import ModelBundle
from ml.card import (
    LOYALTY_INDEX_FORMULA,
    Candidate,
    DataWindow,
    FeatureInfo,
    ModelCard,
    ModelSection,
    RiskBand,
)
from ml.evaluation import binary_metrics
from ml.features import make_feature_pipeline
from ml.queries import FeatureRow, fetch_labels, fetch_population_features

Progress = Callable[[str, float], None]
# share of holdout customers at or above each band's threshold
BAND_QUANTILES = {"medium": 0.50, "high": 0.80, "critical": 0.95}


class InsufficientDataError(ValueError):
    """Too few labelled customers (or only one class) to train or to evaluate."""


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    horizon_days: int = 90
    train_cutoffs: int = 3
    min_per_class: int = 50
    min_holdout_per_class: int = 20
    min_loyalty_per_class: int = 30
    calibration_folds: int = 3
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """Everyone alive at one cut-off: feature rows and what happened after."""

    cutoff: datetime
    rows: list[FeatureRow]
    churned: np.ndarray
    # 1.0 promoter, 0.0 not, NaN: no NPS answer in the window
    promoter: np.ndarray


@dataclass(frozen=True, kw_only=True)
class TrainingResult:
    bundle: ModelBundle
    holdout: Snapshot
    train: list[Snapshot]


async def train(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    now: datetime,
    config: TrainingConfig | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Read the data as of the cut-offs before `now`, fit, evaluate, and build the card."""
    config = config or TrainingConfig()
    train_snapshots, holdout = await load_snapshots(conn, now=now, config=config, progress=progress)
    return fit(train_snapshots, holdout, now=now, config=config, progress=progress)


async def load_snapshots(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    now: datetime,
    config: TrainingConfig | None = None,
    progress: Progress | None = None,
) -> tuple[list[Snapshot], Snapshot]:
    """(training snapshots, holdout snapshot): the database part of `train`, so a
    service can run the CPU-bound `fit` elsewhere (a thread) with the same inputs."""
    config = config or TrainingConfig()
    report = progress or _silent
    holdout_cutoff = now - timedelta(days=config.horizon_days)
    cutoffs = [
        holdout_cutoff - timedelta(days=config.horizon_days * k) for k in range(config.train_cutoffs, 0, -1)
    ]
    snapshots = []
    for step, cutoff in enumerate([*cutoffs, holdout_cutoff]):
        report(f"reading features and labels as of {cutoff:%Y-%m-%d}", 0.4 * step / (len(cutoffs) + 1))
        snapshots.append(await load_snapshot(conn, cutoff=cutoff, horizon_days=config.horizon_days))
    return snapshots[:-1], snapshots[-1]


async def load_snapshot(
    conn: asyncpg.Connection | asyncpg.Pool, *, cutoff: datetime, horizon_days: int
) -> Snapshot:
    rows = await fetch_population_features(conn, as_of=cutoff)
    labels = await fetch_labels(
        conn, cutoff=cutoff, horizon_days=horizon_days, customer_ids=[row["customer_id"] for row in rows]
    )
    outcome = [labels[row["customer_id"]] for row in rows]
    return Snapshot(
        cutoff=cutoff,
        rows=rows,
        churned=np.array([churned for churned, _ in outcome], dtype=bool),
        promoter=np.array([np.nan if nps is None else float(nps >= 9) for _, nps in outcome]),
    )


def fit(
    train: Sequence[Snapshot],
    holdout: Snapshot,
    *,
    now: datetime,
    config: TrainingConfig | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Fit both outputs on `train`, choose and describe them on `holdout` (pure: no database)."""
    config = config or TrainingConfig()
    report = progress or _silent
    rows = [row for snapshot in train for row in snapshot.rows]
    churned = np.concatenate([s.churned for s in train]) if train else np.array([], dtype=bool)
    promoter = np.concatenate([s.promoter for s in train]) if train else np.array([])
    answered, answered_holdout = ~np.isnan(promoter), ~np.isnan(holdout.promoter)
    _require(
        churned,
        config.min_per_class,
        ("churned", "retained"),
        f"in the training windows before {holdout.cutoff:%Y-%m-%d}",
    )
    _require(
        holdout.churned,
        config.min_holdout_per_class,
        ("churned", "retained"),
        f"in the holdout window after {holdout.cutoff:%Y-%m-%d}",
    )
    _require(
        promoter[answered] == 1,
        config.min_loyalty_per_class,
        ("promoter", "non-promoter"),
        f"among those who answered NPS in the training windows before {holdout.cutoff:%Y-%m-%d}",
    )
    _require(
        holdout.promoter[answered_holdout] == 1,
        config.min_holdout_per_class,
        ("promoter", "non-promoter"),
        f"among those who answered NPS in the holdout window after {holdout.cutoff:%Y-%m-%d}",
    )
    report("building features", 0.45)
    features = make_feature_pipeline()
    x = features.fit_transform(rows)
    x_holdout = features.transform(holdout.rows)
    groups = np.array([str(row["customer_id"]) for row in rows])
    report("fitting churn models", 0.5)
    churn, churn_section = _choose(
        "Churn within the horizon",
        x=x,
        y=churned,
        groups=groups,
        x_holdout=x_holdout,
        y_holdout=holdout.churned,
        config=config,
    )
    report("fitting loyalty models", 0.8)
    loyalty, loyalty_section = _choose(
        "Promoter (NPS 9-10)",
        x=x[answered],
        y=promoter[answered] == 1,
        groups=groups[answered],
        x_holdout=x_holdout[answered_holdout],
        y_holdout=holdout.promoter[answered_holdout] == 1,
        config=config,
    )
    report("writing the model card", 0.95)
    raw = features.named_steps["rows"].transform(rows)
    holdout_churn = churn.predict_proba(x_holdout)[:, 1]
    card = _card(
        features=features,
        churn=churn_section,
        loyalty=loyalty_section,
        bands=_risk_bands(holdout_churn, holdout.churned),
        window=DataWindow(
            horizon_days=config.horizon_days,
            train_cutoffs=[s.cutoff for s in train],
            holdout_cutoff=holdout.cutoff,
        ),
        version=f"{now:%Y%m%d}-{hashlib.sha256(np.round(holdout_churn, 9).tobytes()).hexdigest()[:8]}",
        now=now,
    )
    bundle = ModelBundle(features=features, churn=churn, loyalty=loyalty, reference=_typical(raw), card=card)
    report("done", 1.0)
    return TrainingResult(bundle=bundle, holdout=holdout, train=list(train))


def candidates(config: TrainingConfig) -> dict[str, tuple[str, object]]:
    """name -> (description, unfitted estimator); both are additive in the log-odds."""
    return {
        "logistic": (
            "standardised logistic regression (L2, C=0.5)",
            make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000)),
        ),
        "boosted_additive": (
            "gradient-boosted trees, one feature per tree (a generalised additive model)",
            HistGradientBoostingClassifier(
                interaction_cst="no_interactions",
                learning_rate=0.08,
                max_iter=300,
                max_leaf_nodes=6,
                min_samples_leaf=40,
                l2_regularization=1.0,
                max_bins=64,
                early_stopping=True,
                validation_fraction=0.15,
                n_iter_no_change=15,
                random_state=config.seed,
            ),
        ),
    }


def _choose(
    target: str,
    *,
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    x_holdout: np.ndarray,
    y_holdout: np.ndarray,
    config: TrainingConfig,
) -> tuple[CalibratedClassifierCV, ModelSection]:
    # folds by customer: a customer seen at two cut-offs must not calibrate itself
    splitter = StratifiedGroupKFold(n_splits=config.calibration_folds, shuffle=True, random_state=config.seed)
    folds = list(splitter.split(x, y, groups))
    fitted: dict[str, CalibratedClassifierCV] = {}
    results = []
    for name, (description, estimator) in candidates(config).items():
        model = CalibratedClassifierCV(estimator, method="sigmoid", cv=folds, ensemble=False).fit(x, y)
        # keep the number of folds, not thousands of row indices, in the artifact
        model.set_params(cv=config.calibration_folds)
        fitted[name] = model
        metrics = binary_metrics(y_holdout, model.predict_proba(x_holdout)[:, 1])
        results.append(Candidate(name=name, description=description, holdout=metrics))
    chosen = min(results, key=lambda c: c.holdout.brier).name
    section = ModelSection(
        target=target, chosen=chosen, candidates=results, train_rows=len(y), train_positives=int(y.sum())
    )
    return fitted[chosen], section


def _require(labels: np.ndarray, minimum: int, names: tuple[str, str], where: str) -> None:
    positive, negative = int(labels.sum()), int(len(labels) - labels.sum())
    if positive >= minimum and negative >= minimum:
        return
    found = f"found {positive} {names[0]} and {negative} {names[1]}"
    if positive == 0 or negative == 0:
        found += f" (a single class: there is nothing to tell {names[0]} from {names[1]})"
    raise InsufficientDataError(
        f"need at least {minimum} {names[0]} and {minimum} {names[1]} customers {where}; {found}"
    )


def _typical(raw: np.ndarray) -> np.ndarray:
    """Per column: the median of known values, or NaN if most customers have none."""
    missing = np.isnan(raw)
    typical = np.full(raw.shape[1], np.nan)
    for j in np.flatnonzero(missing.mean(axis=0) <= 0.5):
        typical[j] = np.median(raw[~missing[:, j], j])
    return typical


def _risk_bands(probabilities: np.ndarray, churned: np.ndarray) -> list[RiskBand]:
    edges = {"low": 0.0} | {name: float(np.quantile(probabilities, q)) for name, q in BAND_QUANTILES.items()}
    names = list(edges)
    bands = []
    for k, name in enumerate(names):
        upper = edges[names[k + 1]] if k + 1 < len(names) else np.inf
        inside = (probabilities >= edges[name]) & (probabilities < upper)
        bands.append(
            RiskBand(
                name=name,
                min_probability=round(edges[name], 6),
                holdout_share=float(inside.mean()),
                holdout_churn_rate=float(churned[inside].mean()) if inside.any() else 0.0,
            )
        )
    return bands


def _card(
    *,
    features: Pipeline,
    churn: ModelSection,
    loyalty: ModelSection,
    bands: list[RiskBand],
    window: DataWindow,
    version: str,
    now: datetime,
) -> ModelCard:
    vectorizer = features.named_steps["rows"]
    sources = {"touchpoint": "service: interactions", "segment": "CRM: segment", "attr": "CRM: attributes"}
    infos = [
        FeatureInfo(
            name=column.name,
            label=column.label,
            source=sources.get(column.name.split(":")[0].split("=")[0], "service"),
        )
        for column in vectorizer.columns()
    ]
    return ModelCard(
        version=version,
        kind="churn_loyalty",
        created_at=now,
        data=window,
        churn=churn,
        loyalty=loyalty,
        risk_bands=bands,
        features=infos,
        loyalty_index=LOYALTY_INDEX_FORMULA,
        versions={
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "skops": package_version("skops"),
            "bundle_format": "1",
        },
        intended_use=(
            "Ranks customers by churn risk and loyalty for the recovery queue and reports; "
            "probabilities are calibrated on a later period than the one trained on."
        ),
        limitations=[
            "CRM attributes are read as they are now, not as they were at each cut-off: an attribute "
            "the CRM changes because a customer churned leaks into training.",
            "Recovery tasks opened because of an earlier score feed back into the features.",
            "Missing numbers are imputed with training medians and flagged; a customer with no "
            "answers is scored from behaviour and CRM data only.",
            "Risk bands are quantiles of the holdout's predictions (50%, 80%, 95%), not business thresholds.",
        ],
    )


def _silent(message: str, fraction: float) -> None:
    return None

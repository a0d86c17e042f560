"""Training: labels from customer events, a time-based split, calibrated models.

Cut-offs step back from `now` (the run's as-of date) by the horizon: the holdout
cut-off is now - horizon (its window has fully happened), training cut-offs are the
`train_cutoffs` windows before it, stacked (a customer in the population at several
appears once per cut-off). Features are read as of each cut-off with the serving
query, CRM attributes included (their history).

Churn follows the label policy (docs/churn-labels.md): a `churned` event within the
horizon after the cut-off (contractual), or no purchase within it (non-contractual).
Loyalty: is the customer's first NPS answer in that window a 9-10 (trained on customers
who answered, predicted for everyone); with too few answers there is no loyalty model,
and the card and every score say why, instead of failing the training.

For each output, the candidates (a scaled logistic regression, an additive
gradient-boosted model and, for non-contractual churn, the BG/NBD's own chance of no
purchase) are calibrated (Platt, cross-validated by customer) and judged on every training
window after the first, each predicted by the candidate fitted on the windows before it
(rolling validation); the one with the lower validation Brier score is refitted on every
training window and judged once on the
holdout: the card's holdout figures are honest out-of-time numbers that no choice was made
on. That evaluated model stays in the bundle (`churn_evaluated`), for the registry to
compare on the same holdout; the model that serves is the chosen candidate refitted once
more with the holdout window too, so it learns from the latest behaviour a CRM has seen
(customer bases drift: churn rises as a cohort ages, seasons come and go).
"""

import hashlib
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version as package_version
from typing import Any

import asyncpg
import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ml.bundle import ModelBundle
from ml.card import (
    LOYALTY_INDEX_FORMULA,
    Candidate,
    DataWindow,
    FeatureInfo,
    LifetimeValueInfo,
    Metrics,
    ModelCard,
    ModelSection,
    RiskBand,
    band_index,
)
from ml.evaluation import binary_metrics
from ml.features import RowVectorizer, make_feature_pipeline
from ml.history import (
    NO_PURCHASE_COLUMN,
    NoPurchaseScore,
    PurchaseModel,
    add_purchase_rhythm,
    fit_purchase_model,
)
from ml.queries import (
    LABEL_POLICIES,
    FeatureRow,
    LabelPolicy,
    fetch_labels,
    fetch_population_features,
    fetch_purchase_summaries,
)

Progress = Callable[[str, float], None]
# share of holdout customers at or above each band's threshold
BAND_QUANTILES = {"medium": 0.50, "high": 0.80, "critical": 0.95}


class InsufficientDataError(ValueError):
    """Too few labelled customers (or only one class) to train or to evaluate."""


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    horizon_days: int = 90
    labels: LabelPolicy = "contractual"
    # training windows before the holdout; every one after the first validates the candidates
    train_cutoffs: int = 3
    min_per_class: int = 50
    min_holdout_per_class: int = 20
    min_loyalty_per_class: int = 30
    calibration_folds: int = 3
    # fit the purchase-history (lifetime-value) models into the bundle
    lifetime_value: bool = True
    # serve the chosen candidates refitted with the holdout window too (the card describes the
    # evaluated ones, fitted without it)
    learn_from_holdout: bool = True
    # OpenMP/BLAS threads while fitting. One: training runs beside a serving process, and on a
    # busy two-core machine the boosted model's OpenMP threads spin against each other (one
    # CDNOW fit took 55 s on two threads, 1.3 s on one)
    threads: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.labels not in LABEL_POLICIES:
            raise ValueError(f"labels must be one of {', '.join(LABEL_POLICIES)}, not {self.labels!r}")
        if self.train_cutoffs < 2:
            raise ValueError("train_cutoffs must be at least 2: the windows after the first validate")
        if self.horizon_days < 1:
            raise ValueError("horizon_days must be at least 1")


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
    current = await fetch_purchase_summaries(conn, as_of=now) if config.lifetime_value else None
    return fit(train_snapshots, holdout, now=now, config=config, progress=progress, current=current)


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
        snapshots.append(
            await load_snapshot(conn, cutoff=cutoff, horizon_days=config.horizon_days, labels=config.labels)
        )
    return snapshots[:-1], snapshots[-1]


async def load_snapshot(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    cutoff: datetime,
    horizon_days: int,
    labels: LabelPolicy = "contractual",
) -> Snapshot:
    rows = await fetch_population_features(conn, as_of=cutoff, labels=labels)
    outcomes = await fetch_labels(
        conn,
        cutoff=cutoff,
        horizon_days=horizon_days,
        customer_ids=[row["customer_id"] for row in rows],
        labels=labels,
    )
    outcome = [outcomes[row["customer_id"]] for row in rows]
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
    current: Sequence[Mapping[str, Any]] | None = None,
) -> TrainingResult:
    """Fit both outputs on `train`, choose on its later windows, describe them on `holdout`
    (no database). With lifetime value, every snapshot's rows get their purchase-rhythm
    feature from a model fitted at their own cut-off, and the bundle keeps one fitted on
    `current` (purchase summaries as of `now`; the holdout's rows when not given)."""
    config = config or TrainingConfig()
    with threadpool_limits(limits=config.threads):
        return _fit(train, holdout, now=now, config=config, progress=progress, current=current)


def _fit(
    train: Sequence[Snapshot],
    holdout: Snapshot,
    *,
    now: datetime,
    config: TrainingConfig,
    progress: Progress | None,
    current: Sequence[Mapping[str, Any]] | None,
) -> TrainingResult:
    report = progress or _silent
    rows = [row for snapshot in train for row in snapshot.rows]
    churned = np.concatenate([s.churned for s in train]) if train else np.array([], dtype=bool)
    promoter = np.concatenate([s.promoter for s in train]) if train else np.array([])
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
    split = _Split.of(train, holdout)
    _require(
        split.validation_labels(churned),
        config.min_holdout_per_class,
        ("churned", "retained"),
        f"in the validation windows from {split.validation_cutoff:%Y-%m-%d} on (the training windows "
        "after the first)",
    )
    _require(
        split.earlier_labels(churned),
        config.min_holdout_per_class,
        ("churned", "retained"),
        f"in the earliest training window, before {split.validation_cutoff:%Y-%m-%d}",
    )
    report("building features", 0.45)
    purchases, purchases_unavailable = _purchase_history(train, holdout, current=current, config=config)
    features = make_feature_pipeline(horizon_days=config.horizon_days, purchase_rhythm=purchases is not None)
    x = features.fit_transform(rows)
    x_holdout = features.transform(holdout.rows)
    groups = np.array([str(row["customer_id"]) for row in rows])
    groups_holdout = np.array([str(row["customer_id"]) for row in holdout.rows])
    report("fitting churn models", 0.5)
    churn = _choose(
        "Churn within the horizon",
        candidates(config, features=features),
        x=x,
        y=churned,
        groups=groups,
        split=split,
        x_holdout=x_holdout,
        y_holdout=holdout.churned,
        groups_holdout=groups_holdout,
        config=config,
    )
    report("fitting loyalty models", 0.75)
    loyalty, loyalty_unavailable = _loyalty(
        x=x,
        promoter=promoter,
        groups=groups,
        split=split,
        x_holdout=x_holdout,
        holdout=holdout,
        groups_holdout=groups_holdout,
        config=config,
    )
    report("writing the model card", 0.95)
    raw = features.named_steps["rows"].transform(rows)
    holdout_churn = churn.evaluated.predict_proba(x_holdout)[:, 1]
    card = _card(
        features=features,
        churn=churn.section,
        loyalty=None if loyalty is None else loyalty.section,
        loyalty_unavailable=loyalty_unavailable,
        bands=_risk_bands(holdout_churn, holdout.churned),
        window=DataWindow(
            horizon_days=config.horizon_days,
            train_cutoffs=[s.cutoff for s in train],
            holdout_cutoff=holdout.cutoff,
            labels=config.labels,
            validation_cutoff=split.validation_cutoff,
            served_with_holdout=config.learn_from_holdout,
        ),
        version=f"{now:%Y%m%d}-{hashlib.sha256(np.round(holdout_churn, 9).tobytes()).hexdigest()[:8]}",
        now=now,
        lifetime_value=_lifetime_value_info(purchases, purchases_unavailable, config),
    )
    bundle = ModelBundle(
        features=features,
        churn=churn.served,
        loyalty=None if loyalty is None else loyalty.served,
        reference=_typical(raw),
        card=card,
        purchases=purchases,
        churn_evaluated=churn.evaluated,
        loyalty_evaluated=None if loyalty is None else loyalty.evaluated,
    )
    report("done", 1.0)
    return TrainingResult(bundle=bundle, holdout=holdout, train=list(train))


@dataclass(frozen=True)
class _Split:
    """Rolling-origin validation over the stacked training rows: every training window after
    the first is predicted by a model fitted on the windows before it (`window` is each row's
    window, 0 the earliest)."""

    window: np.ndarray
    validation_cutoff: datetime

    @classmethod
    def of(cls, train: Sequence[Snapshot], holdout: Snapshot) -> "_Split":
        if len(train) < 2:
            raise InsufficientDataError(
                f"need at least two training windows before {holdout.cutoff:%Y-%m-%d} (the later ones "
                f"choose between the candidates); found {len(train)}"
            )
        window = np.repeat(np.arange(len(train)), [len(s.rows) for s in train])
        return cls(window, train[1].cutoff)

    @property
    def validation(self) -> np.ndarray:
        return self.window >= 1

    def subset(self, rows: np.ndarray) -> "_Split":
        return _Split(self.window[rows], self.validation_cutoff)

    def folds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows to fit on, rows to predict) for each validation window, in time order."""
        return [(self.window < k, self.window == k) for k in range(1, int(self.window.max()) + 1)]

    def validation_labels(self, labels: np.ndarray) -> np.ndarray:
        return labels[self.validation]

    def earlier_labels(self, labels: np.ndarray) -> np.ndarray:
        return labels[self.window == 0]


def _loyalty(
    *,
    x: np.ndarray,
    promoter: np.ndarray,
    groups: np.ndarray,
    split: _Split,
    x_holdout: np.ndarray,
    holdout: Snapshot,
    groups_holdout: np.ndarray,
    config: TrainingConfig,
) -> tuple["_Chosen | None", str | None]:
    """The loyalty model, or (None, why not) when the answers are too few."""
    answered, answered_holdout = ~np.isnan(promoter), ~np.isnan(holdout.promoter)
    labels = promoter == 1
    answered_split = split.subset(answered)
    try:
        _require(
            labels[answered],
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
        for part, where in (
            (answered_split.validation_labels(labels[answered]), "in the validation windows from {} on"),
            (answered_split.earlier_labels(labels[answered]), "in the earliest training window, before {}"),
        ):
            _require(
                part,
                config.min_holdout_per_class,
                ("promoter", "non-promoter"),
                "among those who answered NPS " + where.format(f"{split.validation_cutoff:%Y-%m-%d}"),
            )
    except InsufficientDataError as error:
        return None, f"too few NPS answers to learn loyalty from: {error}"
    chosen = _choose(
        "Promoter (NPS 9-10)",
        candidates(config),
        x=x[answered],
        y=labels[answered],
        groups=groups[answered],
        split=answered_split,
        x_holdout=x_holdout[answered_holdout],
        y_holdout=holdout.promoter[answered_holdout] == 1,
        groups_holdout=groups_holdout[answered_holdout],
        config=config,
    )
    return chosen, None


def candidates(config: TrainingConfig, *, features: Pipeline | None = None) -> dict[str, tuple[str, object]]:
    """name -> (description, unfitted estimator); all are additive in the log-odds.

    With `features` (a fitted pipeline whose vectorizer has the purchase-history model) and
    non-contractual labels, the BG/NBD's own chance of no purchase is a candidate too.
    """
    found: dict[str, tuple[str, object]] = {
        "logistic": (
            "standardised logistic regression (L2, C=0.01)",
            # strong shrinkage: dozens of correlated purchase and survey counts, most of them
            # noise for any one business (C from 0.5 to 0.01 lowered the validation Brier score
            # on every simulated seed and changed nothing on CDNOW)
            make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000)),
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
    if features is not None and config.labels == "non_contractual":
        vectorizer: RowVectorizer = features.named_steps["rows"]
        names = list(vectorizer.get_feature_names_out())
        if NO_PURCHASE_COLUMN in names:
            found["bgnbd"] = (
                "BG/NBD chance of no purchase within the horizon (purchase history alone), recalibrated",
                NoPurchaseScore(column=names.index(NO_PURCHASE_COLUMN)),
            )
    return found


def _choose(
    target: str,
    options: dict[str, tuple[str, object]],
    *,
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    split: _Split,
    x_holdout: np.ndarray,
    y_holdout: np.ndarray,
    groups_holdout: np.ndarray,
    config: TrainingConfig,
) -> "_Chosen":
    """Each candidate judged on every training window after the first, each predicted by a
    model fitted on the windows before it; the one with the lower validation Brier score
    refitted on every training window and judged on the holdout, then (to serve) refitted
    with the holdout window too."""
    results: dict[str, Metrics] = {}
    for name, (_, estimator) in options.items():
        predicted = np.empty(len(y))
        for fit_rows, predict_rows in split.folds():
            model = _calibrated(estimator, x[fit_rows], y[fit_rows], groups[fit_rows], config)
            predicted[predict_rows] = model.predict_proba(x[predict_rows])[:, 1]
        results[name] = binary_metrics(y[split.validation], predicted[split.validation])
    chosen = min(results, key=lambda name: results[name].brier)
    model = _calibrated(options[chosen][1], x, y, groups, config)
    holdout = binary_metrics(y_holdout, model.predict_proba(x_holdout)[:, 1])
    served = (
        _calibrated(
            options[chosen][1],
            np.vstack([x, x_holdout]),
            np.concatenate([y, y_holdout]),
            np.concatenate([groups, groups_holdout]),
            config,
        )
        if config.learn_from_holdout
        else model
    )
    section = ModelSection(
        target=target,
        chosen=chosen,
        candidates=[
            Candidate(
                name=name,
                description=description,
                validation=results[name],
                holdout=holdout if name == chosen else None,
            )
            for name, (description, _) in options.items()
        ],
        train_rows=len(y),
        train_positives=int(y.sum()),
    )
    return _Chosen(served=served, evaluated=model, section=section)


@dataclass(frozen=True)
class _Chosen:
    served: CalibratedClassifierCV
    evaluated: CalibratedClassifierCV
    section: ModelSection


def _calibrated(
    estimator: object, x: np.ndarray, y: np.ndarray, groups: np.ndarray, config: TrainingConfig
) -> CalibratedClassifierCV:
    # folds by customer: a customer seen at two cut-offs must not calibrate itself
    splitter = StratifiedGroupKFold(n_splits=config.calibration_folds, shuffle=True, random_state=config.seed)
    folds = list(splitter.split(x, y, groups))
    model = CalibratedClassifierCV(clone(estimator), method="sigmoid", cv=folds, ensemble=False).fit(x, y)
    # keep the number of folds, not thousands of row indices, in the artifact
    model.set_params(cv=config.calibration_folds)
    return model


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
    """Edges at the holdout's quantiles, kept exact: the card's band for a probability is the
    band the scorer serves for it (both go through `band_index` with these very floats)."""
    edges = [float(np.quantile(probabilities, q)) for q in BAND_QUANTILES.values()]
    which = band_index(edges, probabilities)
    bands = []
    for k, (name, edge) in enumerate(zip(("low", *BAND_QUANTILES), (0.0, *edges), strict=True)):
        inside = which == k
        bands.append(
            RiskBand(
                name=name,
                min_probability=edge,
                holdout_share=float(inside.mean()),
                holdout_churn_rate=float(churned[inside].mean()) if inside.any() else 0.0,
            )
        )
    return bands


def _card(
    *,
    features: Pipeline,
    churn: ModelSection,
    loyalty: ModelSection | None,
    loyalty_unavailable: str | None,
    lifetime_value: LifetimeValueInfo | None,
    bands: list[RiskBand],
    window: DataWindow,
    version: str,
    now: datetime,
) -> ModelCard:
    vectorizer: RowVectorizer = features.named_steps["rows"]
    sources = {
        "touchpoint": "service: interactions",
        "theme": "service: comment themes (answers' comments)",
        "segment": "CRM: segment (as of each cut-off)",
        "attr": "CRM: attributes (as of each cut-off)",
        "clv": "service: purchase history (BG/NBD)",
    }
    infos = [
        FeatureInfo(
            name=column.name,
            label=column.label,
            source="CRM: value (as of each cut-off)"
            if column.name == "value"
            else sources.get(column.name.split(":")[0].split("=")[0], "service"),
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
        loyalty_unavailable=loyalty_unavailable,
        lifetime_value=lifetime_value,
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
            "Ranks customers by churn risk and loyalty for the recovery queue and reports, and "
            "forecasts their purchases and value over the horizon; probabilities are calibrated on "
            "a later period than the one trained on."
        ),
        limitations=[
            "CRM attributes, value and segment are read as they were at each cut-off (their history); "
            "before the first version the service knows of, they count as missing and are imputed.",
            "Purchase amounts are added up as sent, whatever their currency.",
            "Recovery tasks opened because of an earlier score feed back into the features.",
            "Missing numbers are imputed with training medians and flagged; a customer with no "
            "answers is scored from behaviour and CRM data only.",
            "The served models learnt from the holdout window too; the card's holdout figures are "
            "those of the same candidates fitted without it (a refit is not judged again).",
            "Lifetime value assumes a steady purchase rhythm (BG/NBD): seasons and campaigns move "
            "purchases it does not forecast.",
            "Risk bands are quantiles of the holdout's predictions (50%, 80%, 95%), not business thresholds.",
        ],
    )


def _purchase_history(
    train: Sequence[Snapshot],
    holdout: Snapshot,
    *,
    current: Sequence[Mapping[str, Any]] | None,
    config: TrainingConfig,
) -> tuple[PurchaseModel | None, str | None]:
    """The purchase-rhythm feature of every row, point in time, and the model the bundle keeps."""
    if not config.lifetime_value:
        return None, None
    for snapshot in [*train, holdout]:
        add_purchase_rhythm(snapshot.rows, horizon_days=config.horizon_days)
    return fit_purchase_model(holdout.rows if current is None else current, horizon_days=config.horizon_days)


def _lifetime_value_info(
    model: PurchaseModel | None, unavailable: str | None, config: TrainingConfig
) -> LifetimeValueInfo | None:
    if not config.lifetime_value:
        return None
    if model is None:
        return LifetimeValueInfo(horizon_days=config.horizon_days, available=False, reason=unavailable)
    return LifetimeValueInfo(
        horizon_days=config.horizon_days,
        available=True,
        reason=None if model.spend_ is not None else f"no expected value: {model.spend_unavailable_}",
        customers=model.customers_,
        repeat_buyers=model.repeat_buyers_,
        parameters=model.parameters(),
    )


def _silent(message: str, fraction: float) -> None:
    return None

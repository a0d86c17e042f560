"""Model bundles as skops bytes: never pickle, and only types we know are loaded.

`loads` asks skops which types in the file are not trusted by default and
refuses the file if any is outside `TRUSTED_TYPES`, naming them; nothing in
the file runs before that check. `dumps` writes a canonical zip (array files
numbered in order, fixed timestamps), so the same model always gives the same
bytes: reproducible artifacts, clean diffs.
"""

import io
import re
import zipfile

import skops.io as sio

from ml.bundle import FORMAT, ModelBundle
from ml.card import card_from_json, card_to_json

# everything a bundle holds beyond skops' own defaults (numpy, builtins, scikit-learn
# estimators it trusts): our vectorizer, our lifetime-value models (plain floats inside)
# and the fitted internals of the models we train
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "ml.features.RowVectorizer",
        "ml.history.NoPurchaseScore",
        "ml.history.PurchaseModel",
        "ml.clv.BetaGeometricNBD",
        "ml.clv.CustomerLifetimeValue",
        "ml.clv.GammaGammaSpend",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.model_selection._split.StratifiedKFold",
        "collections.OrderedDict",
        "numpy.dtype",
    }
)


_OBJECT_ID = re.compile(r'"__id__": (\d+)')


class UntrustedArtifactError(ValueError):
    """The artifact holds types outside the allow-list (or is not a bundle at all)."""


def dumps(bundle: ModelBundle) -> bytes:
    payload = {
        "format": FORMAT,
        "features": bundle.features,
        "churn": bundle.churn,
        "loyalty": bundle.loyalty,
        "reference": bundle.reference,
        "card": card_to_json(bundle.card).decode(),
        "purchases": bundle.purchases,
        "churn_evaluated": bundle.churn_evaluated,
        "loyalty_evaluated": bundle.loyalty_evaluated,
    }
    return _canonical(sio.dumps(payload))


def loads(data: bytes) -> ModelBundle:
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise UntrustedArtifactError(f"not a skops model artifact: {error}") from error
    unknown = sorted(set(untrusted) - TRUSTED_TYPES)
    if unknown:
        raise UntrustedArtifactError(
            f"refusing to load a model artifact with unknown types: {', '.join(unknown)}"
        )
    payload = sio.loads(data, trusted=untrusted)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UntrustedArtifactError(f"not a model bundle of format {FORMAT}")
    return ModelBundle(
        features=payload["features"],
        churn=payload["churn"],
        loyalty=payload["loyalty"],
        reference=payload["reference"],
        card=card_from_json(payload["card"]),
        # bundles made before lifetime value, or before serving a refit, have none of these
        purchases=payload.get("purchases"),
        churn_evaluated=payload.get("churn_evaluated"),
        loyalty_evaluated=payload.get("loyalty_evaluated"),
    )


def _canonical(data: bytes) -> bytes:
    """skops names array files and objects after their ids in memory; number them
    in order instead (one mapping, so shared references stay shared) and fix the
    timestamps, so the bytes depend on the model only."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    arrays = [name for name, _ in entries if name.endswith(".npy")]
    renames = {name: f"{k:05d}.npy" for k, name in enumerate(arrays)}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, content in entries:
            fixed = zipfile.ZipInfo(renames.get(name, name), date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            body = _renumber(content.decode(), renames).encode() if name == "schema.json" else content
            target.writestr(fixed, body, compresslevel=9)
    return out.getvalue()


def _renumber(schema: str, renames: dict[str, str]) -> str:
    for old, new in renames.items():
        schema = schema.replace(f'"{old}"', f'"{new}"')
    ids: dict[str, str] = {}
    return _OBJECT_ID.sub(lambda m: f'"__id__": {ids.setdefault(m.group(1), str(len(ids)))}', schema)

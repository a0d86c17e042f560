"""Comment themes: TF-IDF and NMF per language, and matching new topics to earlier themes.

Everything here runs offline on scikit-learn: no embeddings, no downloads. Each language
gets its own vocabulary and stop words (scikit-learn ships English ones; the others are
small lists kept in ml/stopwords/ as data, and `max_df` drops whatever else is on every
other lip). A topic is an NMF component; a comment belongs to the topic with the largest
share of its NMF weights.

Stability: a run fits afresh, and NMF numbers its components in no particular order, so
ids cannot come from the model. Each theme keeps a *signature* (its strongest terms with
unit-length weights); `match_topics` pairs a run's topics with the earlier signatures by
cosine similarity with the Hungarian method (one topic per theme, the best total), and a
pair below the threshold is a new theme. Ids and the labels managers gave survive refits.
"""

import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

STOP_WORDS_DIR = Path(__file__).with_name("stopwords")
UNDETERMINED = "und"
# words of two letters or more that start with a letter: numbers alone are no theme
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W_]+\b"  # noqa: S105
# a word this common in customers' comments carries no theme of its own
_ENGLISH_EXTRA = frozenset({"just", "really", "got", "get", "did", "didn", "don", "doesn", "wasn", "isn"})


class Topic(NamedTuple):
    top_words: list[str]
    signature: dict[str, float]
    size: int


def language_of(locale: str | None) -> str:
    """`de-AT` and `de_AT` -> `de`; nothing -> `und` (undetermined, BCP 47)."""
    primary = (locale or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else UNDETERMINED


@cache
def stop_words(language: str) -> frozenset[str]:
    if language == "en":
        return frozenset(ENGLISH_STOP_WORDS | _ENGLISH_EXTRA)
    path = STOP_WORDS_DIR / f"{language}.txt"
    # a language without a list relies on max_df alone
    return frozenset(path.read_text(encoding="utf-8").split()) if path.is_file() else frozenset()


def auto_themes(n_comments: int, *, max_themes: int) -> int:
    """About one theme per four-squared comments: 3 for 30 comments, 10 for 400, capped."""
    return int(min(max_themes, max(2, round(math.sqrt(n_comments / 4)))))


class ThemeModel(BaseEstimator):
    """Texts of one language -> topics with their top words; `assign` puts a text in one."""

    def __init__(
        self,
        *,
        language: str = "en",
        n_themes: int | None = None,
        max_themes: int = 12,
        min_df: int = 2,
        max_df: float = 0.5,
        max_features: int = 5000,
        min_size: int = 3,
        top_words: int = 8,
        signature_terms: int = 30,
        random_state: int = 0,
    ) -> None:
        self.language = language
        self.n_themes = n_themes
        self.max_themes = max_themes
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.min_size = min_size
        self.top_words = top_words
        self.signature_terms = signature_terms
        self.random_state = random_state

    def fit(
        self, texts: Sequence[str], y: object = None, *, prior: Sequence[Mapping[str, float]] = ()
    ) -> Self:
        """Fit on `texts`; `prior`: earlier themes' signatures, strongest first, to start from.

        Starting NMF at the earlier themes (a warm start) keeps a topic where it was unless the
        comments moved it: refits then find the same themes, which matching turns into the same ids.
        """
        texts = list(texts)
        stop = stop_words(self.language)
        self.vectorizer_ = TfidfVectorizer(
            lowercase=True,
            stop_words=sorted(stop) or None,
            token_pattern=TOKEN_PATTERN,
            ngram_range=(1, 2),
            min_df=min(self.min_df, max(1, len(texts) // 10)),
            max_df=self.max_df if len(texts) >= 20 else 1.0,
            max_features=self.max_features,
            sublinear_tf=True,
        )
        matrix = self.vectorizer_.fit_transform(texts)
        # a refit keeps at least as many themes as it starts from: k does not jump with the corpus
        wanted = self.n_themes or max(
            auto_themes(len(texts), max_themes=self.max_themes), min(len(prior), self.max_themes)
        )
        k = max(1, min(wanted, matrix.shape[1], len(texts)))
        start = _warm_start(matrix, self.vectorizer_.vocabulary_, prior, k)
        if start is None:
            self.nmf_ = NMF(n_components=k, init="nndsvda", max_iter=500, random_state=self.random_state)
            weights = self.nmf_.fit_transform(matrix)
        else:
            self.nmf_ = NMF(n_components=k, init="custom", max_iter=500, random_state=self.random_state)
            weights = self.nmf_.fit_transform(matrix, W=start[0], H=start[1])
        sizes = np.bincount(_strongest(weights)[0][_strongest(weights)[0] >= 0], minlength=k)
        # tiny topics are noise (a typo shared by two comments): their comments go to the next best
        self.kept_ = np.flatnonzero(sizes >= min(self.min_size, max(1, len(texts) // 20)))
        if self.kept_.size == 0:
            self.kept_ = np.array([int(np.argmax(sizes))])
        labels, _ = _strongest(weights[:, self.kept_])
        final_sizes = np.bincount(labels[labels >= 0], minlength=self.kept_.size)
        terms = self.vectorizer_.get_feature_names_out()
        self.topics_ = [
            _topic(
                self.nmf_.components_[j],
                terms,
                size=int(final_sizes[i]),
                top=self.top_words,
                signature=self.signature_terms,
            )
            for i, j in enumerate(self.kept_)
        ]
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's NMF weights on the kept topics."""
        return self.nmf_.transform(self.vectorizer_.transform(list(texts)))[:, self.kept_]

    def assign(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's topic (index into `topics_`; -1: no known word) and its share of the weights."""
        return _strongest(self.transform(texts))


def _warm_start(
    matrix: Any, vocabulary: Mapping[str, int], prior: Sequence[Mapping[str, float]], k: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """W and H to start NMF from: the earlier signatures in this vocabulary, and for the rest of
    the k components the comments the earlier themes explain worst (farthest first)."""
    rows = []
    for signature in prior[:k]:
        row = np.zeros(matrix.shape[1])
        for term, weight in signature.items():
            if (j := vocabulary.get(term)) is not None:
                row[j] = weight
        if row.any():
            rows.append(row / np.linalg.norm(row))
    if not rows:
        return None
    dense = matrix.toarray()
    while len(rows) < k:
        # cosine of each comment (unit rows from TF-IDF) to its closest start so far
        closest = (dense @ np.array(rows).T).max(axis=1)
        farthest = int(np.argmin(np.where(dense.any(axis=1), closest, np.inf)))
        rows.append(dense[farthest] / (np.linalg.norm(dense[farthest]) or 1.0))
    components = np.array(rows)
    scale = math.sqrt(dense.mean() / k) if dense.mean() > 0 else 1.0
    # NMF's multiplicative-free solver needs strictly positive starting weights to move them
    weights = np.maximum(dense @ components.T, 1e-6)
    return weights * scale, np.maximum(components, 1e-6) * scale


def _strongest(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    totals = weights.sum(axis=1)
    labels = np.where(totals > 0, weights.argmax(axis=1), -1)
    share = np.where(totals > 0, weights.max(axis=1) / np.where(totals > 0, totals, 1.0), 0.0)
    return labels, share


def _topic(component: np.ndarray, terms: np.ndarray, *, size: int, top: int, signature: int) -> Topic:
    order = np.argsort(-component, kind="stable")
    strongest = [i for i in order[:signature] if component[i] > 0]
    norm = math.sqrt(sum(float(component[i]) ** 2 for i in strongest)) or 1.0
    words = _top_words([str(terms[i]) for i in strongest], top)
    return Topic(
        top_words=words,
        signature={str(terms[i]): round(float(component[i]) / norm, 6) for i in strongest},
        size=size,
    )


def _top_words(ranked: list[str], top: int) -> list[str]:
    """Strongest terms first, a bigram's words not repeated alone after it ("late delivery", not
    "late delivery, late, delivery")."""
    chosen: list[str] = []
    for term in ranked:
        words = set(term.split())
        if any(words <= set(other.split()) or set(other.split()) <= words for other in chosen):
            continue
        chosen.append(term)
        if len(chosen) == top:
            break
    return chosen


def label_for(top_words: Sequence[str]) -> str:
    """The label a new theme starts with, until a manager names it."""
    return ", ".join(top_words[:3]) or "(no words)"


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(b) < len(a):
        a, b = b, a
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    norms = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norms if norms else 0.0


def match_topics(
    topics: Sequence[Mapping[str, float]], themes: Sequence[Mapping[str, float]], *, threshold: float
) -> list[int | None]:
    """For each topic's signature, the index of the earlier theme it continues, or None (a new theme).

    One topic per theme: the pairing with the largest total similarity (Hungarian method), and
    only pairs at least `threshold` alike count."""
    matched: list[int | None] = [None] * len(topics)
    if not topics or not themes:
        return matched
    similarity = np.array([[cosine(topic, theme) for theme in themes] for topic in topics])
    rows, columns = linear_sum_assignment(similarity, maximize=True)
    for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
        if similarity[row, column] >= threshold:
            matched[row] = column
    return matched

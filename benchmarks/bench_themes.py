"""How good the comment themes are, on a labelled public corpus that a package ships.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python -m benchmarks.bench_themes

The corpus is chatterbot-corpus (BSD-3-Clause): short conversations in many languages, each
YAML file one topic (money, food, movies, psychology, ...). It is in the package's wheel,
so nothing is downloaded. A document is one conversation (the prompt and its answers); its
label is its file's topic. Topics with fewer than MIN_DOCS conversations are left out and
each is capped at MAX_DOCS (English has 1,050 tech-support ones), the cap drawn with a fixed
seed. Per language, ThemeModel (ml/themes.py, what the service runs) is fitted twice: told
the number of topics, and choosing it itself as the service does (at most 12). Printed:

- NMI and ARI between themes and topics, and purity (the share of documents whose theme's
  most common topic is their own); chance level from a shuffled assignment beside them;
- stability: a first run sees a random half of the documents, a second run (another seed)
  sees all of them, and its topics are matched to the first run's themes as the service
  matches them; the share of the first half that keeps its theme id, with k fixed at the number
  of topics, the second run started from the first's themes as the service refits ("warm")
  and from scratch ("cold");
- the demo's comments (ml/simulator.py): eight fixed sentences, in the demo's proportions.

Asserts nothing.
"""

import random
from collections import Counter
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from ml.simulator import _COMMENTS
from ml.themes import ThemeModel, match_topics

LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}
MIN_DOCS = 10
MAX_DOCS = 100
THRESHOLD = 0.3  # the service's default FEEDBACK_THEMES_MATCH_THRESHOLD


def corpus_dir() -> Path:
    import chatterbot_corpus  # the bench extra; only its data files are read

    return Path(chatterbot_corpus.__file__).parent / "data"


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return str(value)


def load(language: str, *, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for path in sorted((corpus_dir() / language).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        docs = [_text(conversation) for conversation in data.get("conversations") or []]
        if len(docs) < MIN_DOCS:
            continue
        if len(docs) > MAX_DOCS:
            docs = rng.sample(docs, MAX_DOCS)
        texts += docs
        labels += [path.stem] * len(docs)
    return texts, labels


def purity(labels: list[str], assigned: np.ndarray) -> float:
    by_theme: dict[int, Counter[str]] = {}
    for label, theme in zip(labels, assigned.tolist(), strict=True):
        by_theme.setdefault(theme, Counter())[label] += 1
    return sum(counts.most_common(1)[0][1] for counts in by_theme.values()) / len(labels)


def scores(labels: list[str], assigned: np.ndarray) -> tuple[float, float, float]:
    return (
        normalized_mutual_info_score(labels, assigned),
        adjusted_rand_score(labels, assigned),
        purity(labels, assigned),
    )


def stability(texts: list[str], language: str, k: int, *, warm: bool, seed: int = 0) -> float:
    """Share of the first run's documents whose theme id the second run keeps (k fixed, so growth
    of the corpus does not count as change); `warm`: the second run starts from the first's themes."""
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(texts))[: len(texts) // 2]
    first = ThemeModel(language=language, n_themes=k, random_state=1).fit([texts[i] for i in half])
    prior = [t.signature for t in sorted(first.topics_, key=lambda t: -t.size)] if warm else []
    second = ThemeModel(language=language, n_themes=k, random_state=2).fit(texts, prior=prior)
    matched = match_topics(
        [t.signature for t in second.topics_], [t.signature for t in first.topics_], threshold=THRESHOLD
    )
    before, _ = first.assign([texts[i] for i in half])
    after, _ = second.assign([texts[i] for i in half])
    # the first run's theme ids are its topic numbers; the second's continue them where matched
    ids_after = np.array([matched[a] if a >= 0 and matched[a] is not None else -2 for a in after.tolist()])
    return float(np.mean(ids_after == before))


def main() -> None:
    print(f"chatterbot-corpus, topics with >= {MIN_DOCS} conversations, at most {MAX_DOCS} each\n")
    header = (
        f"{'lang':<5}{'docs':>6}{'topics':>7} | {'k=topics: NMI':>13}{'ARI':>6}{'purity':>7}"
        f" | {'auto k':>6}{'NMI':>6}{'ARI':>6}{'purity':>7} | {'chance NMI':>10}"
        f" | {'kept: warm':>10}{'cold':>6}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for code, folder in LANGUAGES.items():
        texts, labels = load(folder)
        k = len(set(labels))
        told = ThemeModel(language=code, n_themes=k).fit(texts)
        nmi, ari, pure = scores(labels, told.assign(texts)[0])
        auto = ThemeModel(language=code).fit(texts)
        a_nmi, a_ari, a_pure = scores(labels, auto.assign(texts)[0])
        chance = normalized_mutual_info_score(labels, rng.permutation(told.assign(texts)[0]))
        cold = stability(texts, code, k, warm=False)
        kept = stability(texts, code, k, warm=True)
        print(
            f"{code:<5}{len(texts):>6}{k:>7} | {nmi:>13.3f}{ari:>6.3f}{pure:>7.3f}"
            f" | {len(auto.topics_):>6}{a_nmi:>6.3f}{a_ari:>6.3f}{a_pure:>7.3f}"
            f" | {chance:>10.3f} | {kept:>10.3f}{cold:>6.3f}"
        )
    # the demo writes one of eight sentences on a quarter of answers, happy or unhappy alike
    rng_demo = random.Random(0)
    demo = [sentence for group in _COMMENTS for sentence in group]
    texts = [rng_demo.choice(demo) for _ in range(2000)]
    model = ThemeModel(language="en").fit(texts)
    nmi, ari, pure = scores(texts, model.assign(texts)[0])
    print(
        f"\ndemo comments ({len(texts)}, {len(demo)} sentences): {len(model.topics_)} themes, "
        f"NMI {nmi:.3f}, ARI {ari:.3f}, purity {pure:.3f}"
    )


if __name__ == "__main__":
    main()

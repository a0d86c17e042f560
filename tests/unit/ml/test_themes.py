"""ml/themes.py: languages, stop words, topics on a small corpus, and matching topics across runs."""

import numpy as np
import pytest

from ml.themes import ThemeModel, auto_themes, cosine, label_for, language_of, match_topics, stop_words

DELIVERY = [
    "the parcel arrived late",
    "delivery was a week late",
    "late parcel again",
    "courier lost my parcel",
]
BILLING = ["charged twice on my invoice", "wrong charge on the invoice", "invoice amount is wrong"]
SUPPORT = ["friendly helpful agent", "the agent was helpful and friendly", "helpful support agent"]


def corpus(repeat: int = 8) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for label, group in enumerate((DELIVERY, BILLING, SUPPORT)):
        for k in range(repeat):
            texts.append(group[k % len(group)])
            labels.append(label)
    return texts, labels


@pytest.mark.parametrize(
    ("locale", "language"),
    [("de-AT", "de"), ("fr_CA", "fr"), ("PT", "pt"), ("", "und"), (None, "und"), ("x1", "und")],
)
def test_the_language_is_the_primary_subtag(locale: str | None, language: str) -> None:
    assert language_of(locale) == language


def test_stop_words_per_language_and_none_for_unknown_ones() -> None:
    assert {"the", "and"} <= stop_words("en")
    assert {"der", "und", "nicht"} <= stop_words("de")
    assert {"les", "pas"} <= stop_words("fr")
    assert stop_words("xx") == frozenset()


def test_auto_themes_grows_slowly_and_is_capped() -> None:
    assert auto_themes(30, max_themes=12) == 3
    assert auto_themes(400, max_themes=12) == 10
    assert auto_themes(100_000, max_themes=12) == 12
    assert auto_themes(3, max_themes=12) == 2


def test_topics_separate_what_customers_talk_about() -> None:
    texts, labels = corpus()
    model = ThemeModel(language="en", n_themes=3).fit(texts)
    assigned, weights = model.assign(texts)
    # each topic is one group: the mapping topic -> group is one to one
    pairs = set(zip(assigned.tolist(), labels, strict=True))
    assert len(pairs) == 3
    assert len({topic for topic, _ in pairs}) == 3
    assert np.all((weights > 0) & (weights <= 1))
    words = [set(topic.top_words) for topic in model.topics_]
    assert any({"late", "parcel"} & w for w in words)
    assert sum(topic.size for topic in model.topics_) == len(texts)
    for topic in model.topics_:
        norm = sum(v * v for v in topic.signature.values())
        assert norm == pytest.approx(1.0, abs=1e-4)


def test_a_text_with_no_known_word_has_no_topic() -> None:
    texts, _ = corpus()
    model = ThemeModel(language="en", n_themes=3).fit(texts)
    assigned, weight = model.assign(["zzz qqq", "late parcel"])
    assert assigned[0] == -1
    assert weight[0] == 0
    assert assigned[1] >= 0


def test_a_refit_on_more_and_reordered_comments_matches_the_earlier_topics() -> None:
    texts, _labels = corpus()
    first = ThemeModel(language="en", n_themes=3, random_state=0).fit(texts)
    more = [*texts[::-1], "parcel late once more", "invoice charge wrong again"]
    second = ThemeModel(language="en", n_themes=3, random_state=5).fit(more)
    matched = match_topics(
        [t.signature for t in second.topics_], [t.signature for t in first.topics_], threshold=0.3
    )
    assert sorted(m for m in matched if m is not None) == [0, 1, 2]
    before, _ = first.assign(texts)
    after, _ = second.assign(texts)
    assert [matched[a] for a in after.tolist()] == before.tolist()


def test_matching_is_one_to_one_and_refuses_unlike_topics() -> None:
    a = {"late": 0.8, "parcel": 0.6}
    b = {"invoice": 0.8, "charge": 0.6}
    assert match_topics([a, b], [b, a], threshold=0.3) == [1, 0]
    # two topics like one theme: only the closer one continues it
    close = {"late": 0.9, "parcel": 0.44}
    assert match_topics([close, a], [a], threshold=0.3) == [None, 0]
    assert match_topics([{"refund": 1.0}], [a, b], threshold=0.3) == [None]
    assert match_topics([], [a], threshold=0.3) == []
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, {}) == 0.0


def test_a_new_themes_label_is_its_top_words() -> None:
    assert label_for(["late", "parcel", "courier", "box"]) == "late, parcel, courier"
    assert label_for([]) == "(no words)"


def test_a_warm_refit_starts_from_the_earlier_themes_and_keeps_their_number() -> None:
    texts, _ = corpus()
    first = ThemeModel(language="en", n_themes=3).fit(texts)
    prior = [t.signature for t in first.topics_]
    # 26 comments alone would make 3 themes by the rule; 5 earlier ones keep 5 (fewer if tiny)
    second = ThemeModel(language="en", random_state=9).fit(
        [*texts, "late parcel", "wrong invoice"], prior=[*prior, {"refund": 1.0}, {"zzz": 1.0}]
    )
    assert second.nmf_.n_components == 5
    matched = match_topics([t.signature for t in second.topics_], prior, threshold=0.3)
    assert sorted(m for m in matched if m is not None) == [0, 1, 2]
    # more themes than topics split one (new ids); every comment in a continued theme keeps its id
    before, _ = first.assign(texts)
    after, _ = second.assign(texts)
    kept = [
        (matched[a], b)
        for a, b in zip(after.tolist(), before.tolist(), strict=True)
        if matched[a] is not None
    ]
    assert len(kept) >= len(texts) // 2
    assert all(now == then for now, then in kept)

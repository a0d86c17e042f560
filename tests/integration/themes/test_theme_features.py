"""Comment themes as churn-model inputs: the feature query reads them as of the cut-off, the
vectorizer learns a column per common theme, and a model fitted before themes keeps working."""

from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np

from ml.features import RowVectorizer
from ml.queries import fetch_features
from tests.integration.themes.seed import comment, customer

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


async def test_the_feature_row_lists_the_themes_of_recent_comments(conn: asyncpg.Connection) -> None:
    late = await conn.fetchval("INSERT INTO themes (locale, label) VALUES ('en', 'late') RETURNING id")
    bills = await conn.fetchval("INSERT INTO themes (locale, label) VALUES ('en', 'bills') RETURNING id")
    who = await customer(conn, locale="en", n=1)
    said = {
        "recent late": (AS_OF - timedelta(days=3), late),
        "recent late again": (AS_OF - timedelta(days=30), late),
        "old bill": (AS_OF - timedelta(days=120), bills),  # before the 90 days
        "future bill": (AS_OF + timedelta(days=1), bills),  # after the cut-off
    }
    for text, (at, theme_id) in said.items():
        response = await comment(conn, who, text=text, score=3, at=at)
        await conn.execute(
            "INSERT INTO theme_assignments (response_id, theme_id, weight) VALUES ($1, $2, 0.8)",
            response,
            theme_id,
        )
    await comment(conn, who, text="no theme yet", score=3, at=AS_OF - timedelta(days=1))
    [row] = await fetch_features(conn, as_of=AS_OF, customer_ids=[who])
    assert row["themes_90d"] == [str(late), str(late)]
    [quiet] = await fetch_features(conn, as_of=AS_OF, customer_ids=[await customer(conn, locale="de", n=2)])
    assert quiet["themes_90d"] == []


def test_the_vectorizer_learns_common_themes_and_old_models_ignore_them() -> None:
    rows = [{"themes_90d": ["7", "7"] if k % 2 else ["9"], "touchpoints_90d": []} for k in range(30)]
    rows.append({"themes_90d": ["rare"]})
    fitted = RowVectorizer().fit(rows)
    names = [column.name for column in fitted.columns()]
    assert names[-2:] == ["theme:7", "theme:9"]
    assert "theme:rare" not in names
    matrix = fitted.transform([{"themes_90d": ["7", "7", "9"]}, {}])
    assert matrix[0, -2:].tolist() == [2.0, 1.0]
    assert matrix[1, -2:].tolist() == [0.0, 0.0]

    # a vectorizer fitted before themes existed (no `themes_`) reads the columns it knows
    old = RowVectorizer().fit([{"touchpoints_90d": []} for _ in range(30)])
    del old.themes_
    width = old.n_features_out_
    out = old.transform([{"themes_90d": ["7"]}])
    assert out.shape == (1, width)
    assert np.isnan(out).sum() == np.isnan(old.transform([{}])).sum()

from datetime import UTC, datetime
from typing import Any

import pytest

from feedback_svc.surveys.messages import own_thanks, survey_texts


def _invitation(locale: str, texts: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    return {
        "kind": "csat",
        "locale": locale,
        "texts": texts,
        "touchpoint": "support_call",
        "touchpoint_name": None,
        "touchpoint_names": None,
        "agent": "Ana",
        "occurred_at": datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
        "time_zone": "Asia/Tokyo",
    }


@pytest.mark.parametrize(
    ("locale", "texts", "expected"),
    [
        ("de", None, None),
        ("de", {}, None),
        ("de", {"de": {"question": "Alles gut?"}}, None),
        ("fr", {"de": {"thanks": "Danke!"}}, None),
        ("de", {"de": {"thanks": "Danke, {agent}, {date}!"}}, "Danke, Ana, 25. November 2026!"),
        ("pt-BR", {"pt": {"thanks": "Obrigado, {brand}"}}, "Obrigado, Acme"),
        # a shipped language closer than the survey's own English wording: the page's heading stands
        ("de", {"en": {"thanks": "Thanks!"}}, None),
        ("sv", {"en": {"thanks": "Thanks at {touchpoint}"}}, "Thanks at support call"),
    ],
)
def test_own_thanks_is_what_resolving_every_text_says(
    locale: str, texts: dict[str, dict[str, str]] | None, expected: str | None
) -> None:
    invitation = _invitation(locale, texts)
    assert own_thanks(invitation, brand="Acme") == expected
    assert survey_texts(invitation, brand="Acme").thanks == expected

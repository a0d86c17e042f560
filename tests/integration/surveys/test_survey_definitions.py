"""Surveys managed through the API: created, reworded in versions that invitations and answers keep,
previewed by the senders' own code, refused with pointers when a text is broken, and retired."""

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.settings import Settings
from feedback_svc.surveys.tokens import token_for
from tests.conftest import KeyFactory

Client = AsyncTestClient[Litestar]

V1_QUESTION = "How likely are you to recommend ACME Telecom to a friend or colleague?"
V2_QUESTION = "Would you recommend ACME Telecom's {touchpoint} to a friend?"
SURVEY: dict[str, Any] = {
    "key": "acme-nps",
    "kind": "nps",
    "texts": {
        "en": {"question": V1_QUESTION, "thanks": "Thank you from all of us at {brand}!"},
        "de": {
            "question": "Wie wahrscheinlich empfehlen Sie ACME Telecom weiter?",
            "sms": "{brand}: Empfehlen Sie uns weiter? Antworten Sie mit 0-10. Abmelden: STOP",
        },
    },
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app of these tests signs as Acme (FEEDBACK_BRAND_NAME)."""
    return msgspec.structs.replace(settings, brand_name="Acme")


@pytest.fixture
async def admin(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("admin", name="ops")


async def invite(
    client: Client, crm: dict[str, str], *, survey: str, locale: str = "en"
) -> tuple[dict[str, Any], str]:
    """A new customer invited by link (channel web): the invitation and its token."""
    customer = await client.post(
        "/v1/customers",
        json={"external_id": f"c-{uuid.uuid4().hex[:8]}", "email": "ana@example.com", "locale": locale},
        headers=crm,
    )
    invited = await client.post(
        "/v1/invitations",
        json={"customer_id": customer.json()["id"], "survey": survey, "channel": "web"},
        headers=crm,
    )
    assert invited.status_code == 201, invited.text
    return invited.json(), invited.json()["survey_url"].rsplit("/", 1)[1]


async def test_a_survey_is_created_reworded_in_versions_and_retired(
    client: Client, crm: dict[str, str], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    created = await client.post("/v1/surveys", json=SURVEY, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["active"], created.json()["kind"]) == (1, True, "nps")
    assert created.json()["texts"]["de"]["sms"].startswith("{brand}: ")
    assert (await client.post("/v1/surveys", json=SURVEY, headers=admin)).status_code == 409
    assert (await client.get("/v1/surveys/acme-nps", headers=crm)).json() == created.json()
    # the CRM reads but cannot write
    assert (await client.post("/v1/surveys", json={**SURVEY, "key": "x"}, headers=crm)).status_code == 403

    before, before_token = await invite(client, crm, survey="acme-nps")
    assert V1_QUESTION in (await client.get(f"/s/{before_token}")).text

    texts_v2 = {"en": {"question": V2_QUESTION}}
    changed = await client.patch("/v1/surveys/acme-nps", json={"texts": texts_v2}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["texts"]) == (2, texts_v2)
    # the same texts again make no version
    again = await client.patch("/v1/surveys/acme-nps", json={"texts": texts_v2}, headers=admin)
    assert again.json()["version"] == 2
    # kind is fixed at creation
    kind = await client.patch("/v1/surveys/acme-nps", json={"kind": "csat"}, headers=admin)
    assert kind.status_code == 422, kind.text

    versions = (await client.get("/v1/surveys/acme-nps/versions", headers=crm)).json()
    assert [(v["version"], v["current"]) for v in versions] == [(2, True), (1, False)]
    assert versions[1]["texts"] == SURVEY["texts"]
    assert versions[1]["created_by"] == "ops (API key)"
    first = await client.get("/v1/surveys/acme-nps/versions/1", headers=crm)
    assert first.json() == versions[1]
    assert (await client.get("/v1/surveys/acme-nps/versions/3", headers=crm)).status_code == 404

    # the invitation made before the change still asks version 1's question, and its answer keeps it
    page = await client.get(f"/s/{before_token}")
    assert V1_QUESTION in page.text
    assert "recommend ACME Telecom's" not in page.text
    answered = await client.post(f"/s/{before_token}", data={"score": "9", "comment": "fast"})
    assert answered.status_code == 200, answered.text
    assert "Thank you from all of us at " in answered.text  # version 1's own thank-you text
    kept = await conn.fetchrow(
        "SELECT i.survey_version AS invited, r.survey_version AS answered FROM invitations i "
        "JOIN responses r ON r.invitation_id = i.id WHERE i.id = $1",
        uuid.UUID(before["id"]),
    )
    assert (kept["invited"], kept["answered"]) == (1, 1)

    after, after_token = await invite(client, crm, survey="acme-nps")
    assert (
        "Would you recommend ACME Telecom&#39;s experience to a friend?"
        in (await client.get(f"/s/{after_token}")).text
    )
    assert await conn.fetchval(
        "SELECT survey_version FROM invitations WHERE id = $1", uuid.UUID(after["id"])
    ) == 2  # fmt: skip

    retired = await client.post("/v1/surveys/acme-nps/retire", headers=admin)
    assert retired.status_code == 200, retired.text
    assert (retired.json()["active"], retired.json()["retired_at"] is not None) == (False, True)
    assert (await client.post("/v1/surveys/acme-nps/retire", headers=admin)).json() == retired.json()
    customer = await client.post(
        "/v1/customers", json={"external_id": "late", "email": "b@example.com"}, headers=crm
    )
    refused = await client.post(
        "/v1/invitations", json={"customer_id": customer.json()["id"], "survey": "acme-nps"}, headers=crm
    )
    assert refused.status_code == 409, refused.text
    assert "retired" in refused.json()["detail"]
    assert (await client.patch("/v1/surveys/acme-nps", json={"texts": {}}, headers=admin)).status_code == 409
    # what was asked and answered stays readable
    assert (await client.get(f"/v1/invitations/{before['id']}", headers=crm)).json()["status"] == "answered"
    assert (await client.get("/v1/surveys/acme-nps/versions/1", headers=crm)).status_code == 200
    assert V1_QUESTION in (await client.get(f"/s/{before_token}")).text


async def test_previews_render_every_channel_in_the_customers_language(
    client: Client, crm: dict[str, str], admin: dict[str, str]
) -> None:
    assert (await client.post("/v1/surveys", json=SURVEY, headers=admin)).status_code == 201

    german = await client.get("/v1/surveys/acme-nps/preview", params={"locale": "de-AT"}, headers=crm)
    assert german.status_code == 200, german.text
    body = german.json()
    assert (body["version"], body["locale"]) == (1, "de-AT")
    assert "Wie wahrscheinlich empfehlen Sie ACME Telecom weiter?" in body["page"]["html"]
    assert '<html lang="de">' in body["page"]["html"]
    assert "Vielen Dank für Ihre Rückmeldung" in body["page"]["thanks_html"]  # no German thanks of its own
    assert body["email"]["subject"] == "Wie wahrscheinlich empfehlen Sie Acme weiter?"
    assert "Wie wahrscheinlich empfehlen Sie ACME Telecom weiter?" in body["email"]["text"]
    assert "Wie wahrscheinlich empfehlen Sie ACME Telecom weiter?" in body["email"]["html"]
    assert body["sms"] == {
        "text": "Acme: Empfehlen Sie uns weiter? Antworten Sie mit 0-10. Abmelden: STOP",
        "encoding": "GSM-7",
        "segments": 1,
    }

    # French has no texts of its own, but French wording ships: a French customer reads French
    # rather than the survey's English
    french = (
        await client.get(
            "/v1/surveys/acme-nps/preview", params={"locale": "fr", "channel": "page"}, headers=crm
        )
    ).json()
    assert V1_QUESTION not in french["page"]["html"]
    assert "Quelle est la probabilité que vous recommandiez Acme" in french["page"]["html"]
    assert "Merci pour votre avis" in french["page"]["thanks_html"]
    assert "Thank you from all of us at Acme!" not in french["page"]["thanks_html"]
    assert (french["email"], french["sms"]) == (None, None)
    sms = (
        await client.get(
            "/v1/surveys/acme-nps/preview", params={"locale": "fr", "channel": "sms"}, headers=crm
        )
    ).json()
    assert sms["sms"]["text"].startswith("Acme: Nous recommanderiez-vous")

    # Swedish ships no wording: the survey's own English, the survey's first language, stands
    swedish = (
        await client.get(
            "/v1/surveys/acme-nps/preview", params={"locale": "sv", "channel": "page"}, headers=crm
        )
    ).json()
    assert V1_QUESTION in swedish["page"]["html"]
    assert "Thank you from all of us at Acme!" in swedish["page"]["thanks_html"]

    for params, status in (({"locale": "xx"}, 422), ({"version": 2}, 404), ({"touchpoint": "nowhere"}, 404)):
        answer = await client.get("/v1/surveys/acme-nps/preview", params=params, headers=crm)
        assert answer.status_code == status, (params, answer.text)


@pytest.mark.parametrize(
    ("texts", "pointer", "says"),
    [
        ({"de": {"question": "Wie war {agentt}?"}}, "/texts/de/question", "unknown placeholder {agentt}"),
        ({"en": {"subject": "How was {brand?"}}, "/texts/en/subject", "a brace without its pair"),
        ({"en": {"reason": "  "}}, "/texts/en/reason", "not empty"),
        ({"en": {"low_label": "x" * 61}}, "/texts/en/low_label", "61 characters; at most 60"),
        ({"xx": {"question": "Hm?"}}, "/texts/xx", "unknown locale 'xx'"),
        ({"en": {"sms": "Wie fanden Sie uns? “" + "ü" * 200}}, "/texts/en/sms", "4 SMS segments in UCS-2"),
        ({"en": {"subject": "two\nlines"}}, "/texts/en/subject", "one line"),
    ],
)
async def test_a_broken_text_is_refused_at_save_with_its_pointer(
    client: Client, admin: dict[str, str], texts: dict[str, Any], pointer: str, says: str
) -> None:
    refused = await client.post("/v1/surveys", json={**SURVEY, "texts": texts}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert error["pointer"] == pointer
    assert says in error["message"]
    assert says in refused.json()["detail"]
    assert (await client.get("/v1/surveys/acme-nps", headers=admin)).status_code == 404  # nothing saved


# every language the shipped wording and CLDR agree on, and a regional variant
LOCALES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "pt-BR", "de-AT")
EVERY_PLACEHOLDER = "{brand} {touchpoint} {agent} {date}"


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
async def test_a_saved_survey_renders_every_channel_in_every_locale(
    client: Client, crm: dict[str, str], admin: dict[str, str], kind: str
) -> None:
    texts = {
        locale: {
            "question": f"[{locale}] {EVERY_PLACEHOLDER}?",
            "low_label": "low {brand}",
            "high_label": "high {agent}",
            "reason": "why, {agent}?",
            "contact": "call me about {touchpoint}",
            "thanks": "thanks {date}",
            "subject": f"[{locale}] {{brand}} {{date}}",
            "sms": f"{{brand}}: [{locale}] {EVERY_PLACEHOLDER} Reply STOP to opt out.",
        }
        for locale in LOCALES
    }
    created = await client.post(
        "/v1/surveys", json={"key": f"all-{kind}", "kind": kind, "texts": texts}, headers=admin
    )
    assert created.status_code == 201, created.text
    names = {
        "name": "Installation visit",
        "survey": f"all-{kind}",
        "display_names": {"de": "Installationstermin"},
    }
    assert (
        await client.put("/v1/touchpoints/installation_visit", json=names, headers=admin)
    ).status_code == 201
    for locale in LOCALES:
        preview = await client.get(
            f"/v1/surveys/all-{kind}/preview",
            params={"locale": locale, "touchpoint": "installation_visit"},
            headers=crm,
        )
        assert preview.status_code == 200, (locale, preview.text)
        body = preview.json()
        touchpoint = "Installationstermin" if locale.startswith("de") else "Installation visit"
        question = f"[{locale}] Acme {touchpoint} Acme "
        assert question in body["page"]["html"], locale
        assert question in body["email"]["text"], locale
        assert body["sms"]["text"].startswith(f"Acme: {question}"), locale
        assert body["email"]["subject"].startswith(f"[{locale}] Acme "), locale
        for text in (
            body["page"]["html"],
            body["page"]["thanks_html"],
            body["email"]["text"],
            body["sms"]["text"],
        ):
            assert not any(f"{{{name}}}" in text for name in ("brand", "touchpoint", "agent", "date")), locale
        assert str(datetime.now(UTC).year) in body["email"]["subject"], locale


async def test_touchpoints_are_named_per_locale_and_retired(
    client: Client, crm: dict[str, str], admin: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    rule = {
        "name": "Installation visit",
        "survey": "csat",
        "critical": True,
        "display_names": {"de": "Installationstermin", "pt_br": "visita de instalação"},
    }
    put = await client.put("/v1/touchpoints/installation_visit", json=rule, headers=admin)
    assert put.status_code == 201, put.text
    assert put.json()["display_names"] == {"de": "Installationstermin", "pt-BR": "visita de instalação"}
    bad = await client.put(
        "/v1/touchpoints/installation_visit",
        json={**rule, "display_names": {"xx": "Hm", "fr": "visite {brand}"}},
        headers=admin,
    )
    assert bad.status_code == 422, bad.text
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/display_names/xx", "/display_names/fr"]
    # a rule put without display names (as clients that predate them do) keeps them
    without = {k: v for k, v in rule.items() if k != "display_names"}
    kept = await client.put("/v1/touchpoints/installation_visit", json=without, headers=admin)
    assert kept.json()["display_names"] == put.json()["display_names"], kept.text
    shipped = {t["key"]: t for t in (await client.get("/v1/touchpoints", headers=crm)).json()}
    # the shipped touchpoints store no names: the translation catalogs name them in each language
    assert shipped["support_call"]["display_names"] == {}

    customer = await client.post(
        "/v1/customers",
        json={"external_id": "crm-de", "email": "jo@example.com", "locale": "de"},
        headers=crm,
    )
    interaction = {
        "customer_id": customer.json()["id"],
        "touchpoint": "installation_visit",
        "occurred_at": datetime.now(UTC).isoformat(),
        "channel_preference": "web",
    }
    recorded = await client.post("/v1/interactions", json=interaction, headers=crm)
    assert recorded.status_code == 201, recorded.text
    invitation = recorded.json()["invitation"]
    assert settings.secret_key
    page = await client.get(f"/s/{token_for(settings.secret_key, uuid.UUID(invitation['id']))}")
    assert "Wie zufrieden waren Sie mit Ihrem letzten Kontakt (Installationstermin)?" in page.text

    # a survey a rule sends cannot be retired; a retired one cannot be chosen
    in_use = await client.post("/v1/surveys/csat/retire", headers=admin)
    assert in_use.status_code == 409, in_use.text
    assert "installation_visit" in in_use.json()["detail"]
    assert (await client.post("/v1/surveys", json=SURVEY, headers=admin)).status_code == 201
    assert (await client.post("/v1/surveys/acme-nps/retire", headers=admin)).status_code == 200
    to_retired = await client.put(
        "/v1/touchpoints/installation_visit", json={**rule, "survey": "acme-nps"}, headers=admin
    )
    assert to_retired.status_code == 422, to_retired.text

    retired = await client.post("/v1/touchpoints/installation_visit/retire", headers=admin)
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired_at"] is not None
    late = await client.post(
        "/v1/interactions", json={**interaction, "external_id": "after-retirement"}, headers=crm
    )
    assert late.status_code == 201, late.text
    assert late.json()["invitation"] is None
    reason = "no survey: touchpoint installation_visit is retired"
    assert late.json()["no_survey_reason"] == reason
    assert (
        await conn.fetchval(
            "SELECT no_survey_reason FROM interactions WHERE external_id = 'after-retirement'"
        )
        == reason
    )
    assert (
        await client.put("/v1/touchpoints/installation_visit", json=rule, headers=admin)
    ).status_code == 409
    assert (await client.post("/v1/touchpoints/nowhere/retire", headers=admin)).status_code == 404

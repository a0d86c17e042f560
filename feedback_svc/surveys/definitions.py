"""Survey definitions through the API: created, reworded in immutable versions, and retired.

Every change of a survey's texts is a new version (survey_versions); an invitation is made
with the survey's current version and its answer keeps it (a trigger fills both, see the
migration), so what a customer was asked can always be read back. Texts are checked when
saved (placeholders.py): a broken template is refused here, never at a send.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries
from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.surveys import queries
from feedback_svc.surveys.placeholders import canonical_locale, locale_problem, text_problems
from feedback_svc.surveys.queries import days
from feedback_svc.surveys.schemas import LocaleTexts, Survey, SurveyCreate, SurveyUpdate, SurveyVersion

Q = load_queries(Path(__file__).with_name("definitions.sql"))

Conn = asyncpg.Connection | asyncpg.Pool


def survey_of(row: dict[str, Any]) -> Survey:
    return Survey(
        key=row["key"],
        kind=row["kind"],
        cooldown_days=days(row["cooldown"]),
        answer_window_days=days(row["answer_window"]),
        token_ttl_days=days(row["token_ttl"]),
        active=row["active"],
        texts=row["texts"],
        version=row["version"],
        retired_at=row["retired_at"],
    )


def checked_texts(texts: dict[str, LocaleTexts], *, brand: str) -> dict[str, dict[str, str]]:
    """The texts as stored (locales written as customers' are, fields left out dropped), or
    InvalidInput naming every problem by its JSON pointer and the field path."""
    stored: dict[str, dict[str, str]] = {}
    problems: list[dict[str, str]] = []
    for given, fields in texts.items():
        locale = canonical_locale(given)
        if (problem := locale_problem(locale)) is not None:
            problems.append({"pointer": f"/texts/{given}", "detail": problem})
            continue
        if locale in stored:
            problems.append(
                {"pointer": f"/texts/{given}", "detail": f"the same locale as another key ({locale})"}
            )
            continue
        values = {k: v for k, v in msgspec.structs.asdict(fields).items() if v is not msgspec.UNSET}
        problems += text_problems(given, values, brand=brand)
        stored[locale] = {field: value.strip() for field, value in values.items()}
    if problems:
        raise InvalidInput(
            "The survey was not saved: "
            + "; ".join(f"{p['pointer']}: {p['detail']}" for p in problems)
            + ".",
            errors=[
                {
                    "field": p["pointer"].strip("/").replace("/", "."),
                    "pointer": p["pointer"],
                    "message": p["detail"],
                    "source": "body",
                }
                for p in problems
            ],
        )
    return stored


async def _definition(conn: Conn, key: str, *, lock: bool = False) -> dict[str, Any]:
    row = await conn.fetchrow(Q["lock_survey_definition" if lock else "survey_definition"], key)
    if row is None:
        raise NotFound(f"No survey {key!r}; GET /v1/surveys lists them.")
    return dict(row)


async def list_surveys(conn: Conn) -> list[Survey]:
    return [survey_of(row) for row in await queries.list_surveys(conn)]


async def get_survey(conn: Conn, key: str) -> Survey:
    return survey_of(await _definition(conn, key))


async def create_survey(conn: asyncpg.Connection, data: SurveyCreate, *, brand: str, actor: str) -> Survey:
    texts = checked_texts(data.texts, brand=brand)
    row = await conn.fetchrow(
        Q["insert_survey"],
        data.key,
        data.kind,
        texts,
        timedelta(days=data.cooldown_days),
        timedelta(days=data.answer_window_days),
        timedelta(days=data.token_ttl_days),
        actor,
    )
    if row is None:
        raise Conflict(f"A survey {data.key!r} exists already; change it with PATCH /v1/surveys/{data.key}.")
    return survey_of(dict(row))


def _interval(value: float | msgspec.UnsetType) -> timedelta | None:
    return None if value is msgspec.UNSET else timedelta(days=value)


async def update_survey(
    conn: asyncpg.Connection, key: str, data: SurveyUpdate, *, brand: str, actor: str
) -> Survey:
    """New texts make a new version (unless they are the current ones); settings change in place."""
    survey = await _definition(conn, key, lock=True)
    if survey["retired_at"] is not None:
        raise Conflict(f"Survey {key!r} is retired; it takes no changes. Create a new survey instead.")
    if data.texts is not msgspec.UNSET:
        texts = checked_texts(data.texts, brand=brand)
        if texts != survey["texts"]:
            await conn.execute(Q["add_survey_version"], survey["id"], texts, actor)
    settings = (
        _interval(data.cooldown_days),
        _interval(data.answer_window_days),
        _interval(data.token_ttl_days),
    )
    if any(value is not None for value in settings):
        await conn.execute(Q["update_survey_settings"], survey["id"], *settings)
    return await get_survey(conn, key)


async def retire_survey(conn: asyncpg.Connection, key: str) -> Survey:
    """No new invitations from now on; answers and open links stay. Refused while a touchpoint
    rule still sends it (point those elsewhere, or retire them, first). Retiring twice is a no-op."""
    survey = await _definition(conn, key, lock=True)
    using = [row["key"] for row in await conn.fetch(Q["touchpoints_using_survey"], survey["id"])]
    if using and survey["retired_at"] is None:
        raise Conflict(
            f"Survey {key!r} is sent after the touchpoint(s) {', '.join(using)}; point their rules at "
            "another survey (PUT /v1/touchpoints/{key}) or retire them first."
        )
    await conn.execute(Q["retire_survey"], survey["id"])
    return await get_survey(conn, key)


def _version(row: asyncpg.Record) -> SurveyVersion:
    return msgspec.convert(dict(row), SurveyVersion)


async def list_versions(conn: Conn, key: str) -> list[SurveyVersion]:
    await _definition(conn, key)
    return [_version(row) for row in await conn.fetch(Q["list_survey_versions"], key)]


async def get_version(conn: Conn, key: str, version: int) -> SurveyVersion:
    row = await conn.fetchrow(Q["survey_version"], key, version)
    if row is None:
        await _definition(conn, key)
        raise NotFound(f"Survey {key!r} has no version {version}; GET /v1/surveys/{key}/versions lists them.")
    return _version(row)

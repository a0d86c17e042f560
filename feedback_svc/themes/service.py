"""Comment themes: runs that find them, and the manager's renames and merges.

A run reads the recent comments, fits a ThemeModel per language (ml/themes.py, in a thread),
pairs each topic with the themes found before (their signatures, Hungarian method), and in
one transaction updates the themes it found again, adds the new ones, rests the ones it did
not find (dormant: id and label kept) and reassigns every comment it read. A topic that
continues a theme merged away gives its comments to the theme it was merged into, so a
manager's merge outlives refits; so does a manager's label.

Runs are asked for over the API, by the CLI, or by the scheduler (background.py) when the
last one is old and new comments came in; an outbox job does the work, so any process may
pick it up, and one run at a time is held by the database (a partial unique index).
"""

import asyncio
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import structlog

from feedback_svc.audit.actions import record as record_audit
from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.outbox.queries import Job, enqueue
from feedback_svc.settings import Settings
from feedback_svc.themes import queries
from feedback_svc.themes.schemas import Theme, ThemeDetail, ThemeExample, ThemeList, ThemeRun, ThemeRunList
from ml.themes import ThemeModel, label_for, language_of, match_topics

log = structlog.get_logger(__name__)

TOPIC = "themes.run"
EXAMPLES = 10
ACTIVE_RUN_TRIES = 3
MAX_ID = 2**63 - 1


def _run(row: dict) -> ThemeRun:
    return ThemeRun(**row)


async def request_run(conn: asyncpg.Connection, *, actor: str) -> tuple[ThemeRun, bool]:
    """A new run and its job in one transaction, or the run queued or running already."""
    async with conn.transaction():
        await queries.close_orphaned_runs(conn, job_key_prefix=f"{TOPIC}:")
        for _ in range(ACTIVE_RUN_TRIES):
            row = await queries.insert_run(conn, requested_by=actor)
            if row is not None:
                await enqueue(
                    conn, topic=TOPIC, payload={"run_id": str(row["id"])}, dedupe_key=f"{TOPIC}:{row['id']}"
                )
                return _run(row), True
            active = await queries.active_run(conn)
            if active is not None:
                return _run(active), False
    raise Conflict("Theme runs are starting and finishing right now; ask again in a moment.")


async def get_run(conn: queries.Conn, run_id: UUID) -> ThemeRun:
    row = await queries.get_run(conn, run_id)
    if row is None:
        raise NotFound(f"No theme run {run_id}.")
    return _run(row)


async def list_runs(conn: queries.Conn, *, limit: int = 20) -> ThemeRunList:
    return ThemeRunList(items=[_run(row) for row in await queries.list_runs(conn, limit=limit)])


@dataclass
class Found:
    """What a run made of one language: topics and each comment's topic (-1: none)."""

    language: str
    response_ids: list[UUID]
    model: ThemeModel | None
    labels: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


def fit_languages(
    rows: list[dict], settings: Settings, *, priors: dict[str, list[dict[str, float]]] | None = None
) -> list[Found]:
    """CPU work, run in a thread: one model per language with enough comments, each started from
    that language's current themes (`priors`, strongest first)."""
    priors = priors or {}
    by_language: dict[str, list[dict]] = {}
    for row in rows:
        by_language.setdefault(language_of(row["locale"]), []).append(row)
    found = []
    for language, items in sorted(by_language.items()):
        ids = [row["id"] for row in items]
        if len(items) < settings.themes_min_comments:
            found.append(Found(language, ids, None))
            continue
        texts = [row["comment"] for row in items]
        model = ThemeModel(language=language, max_themes=settings.themes_max_per_language).fit(
            texts, prior=priors.get(language, [])
        )
        labels, weights = model.assign(texts)
        found.append(Found(language, ids, model, labels.tolist(), weights.tolist()))
    return found


async def execute_run(
    pool: asyncpg.Pool, run_id: UUID, *, settings: Settings, now: datetime
) -> ThemeRun | None:
    """Do a queued run (the outbox job, or the CLI); None when it had finished already."""
    if not await queries.start_run(pool, run_id):
        return None
    try:
        rows = await queries.comments(
            pool, since=now - timedelta(days=settings.themes_window_days), limit=settings.themes_max_comments
        )
        found = await asyncio.to_thread(
            fit_languages, rows, settings, priors=_priors(await queries.all_themes(pool))
        )
        async with pool.acquire() as conn, conn.transaction():
            summary = await _store(conn, found, run_id=run_id, threshold=settings.themes_match_threshold)
    except Exception as error:
        log.exception("theme run failed", run_id=str(run_id))
        await queries.finish_run(
            pool,
            run_id,
            status="failed",
            message="the theme run failed",
            error=f"{type(error).__name__}: {error}",
            summary={},
        )
        return await get_run(pool, run_id)
    await queries.finish_run(
        pool,
        run_id,
        status="succeeded",
        message=_describe(summary),
        error=None,
        summary=summary,
    )
    return await get_run(pool, run_id)


def _priors(themes: list[dict]) -> dict[str, list[dict[str, float]]]:
    """Per language, the signatures a refit starts from: current themes, most comments first
    (merged ones too: their topic still exists, its comments go elsewhere). Dormant ones not."""
    priors: dict[str, list[dict[str, float]]] = {}
    for theme in sorted(themes, key=lambda theme: (-theme["comments"], theme["id"])):
        if theme["status"] != "dormant" and theme["signature"]:
            priors.setdefault(theme["locale"], []).append(theme["signature"])
    return priors


def _describe(summary: dict[str, dict[str, int]]) -> str:
    if not summary:
        return "no comments to learn from"
    parts = []
    for language, counts in summary.items():
        if counts["themes"] == 0:
            parts.append(f"{language}: {counts['comments']} comments, too few for themes")
        else:
            parts.append(
                f"{language}: {counts['comments']} comments, {counts['themes']} themes "
                f"({counts['kept']} kept, {counts['new']} new)"
            )
    return "; ".join(parts)


async def _store(
    conn: asyncpg.Connection, found: list[Found], *, run_id: UUID, threshold: float
) -> dict[str, dict[str, int]]:
    await queries.lock_themes(conn)
    themes = await queries.all_themes(conn)
    final = {theme["id"]: _final(theme["id"], themes) for theme in themes}
    summary: dict[str, dict[str, int]] = {}
    for each in found:
        counts = {"comments": len(each.response_ids), "themes": 0, "kept": 0, "new": 0}
        summary[each.language] = counts
        if each.model is None:
            continue
        earlier = [theme for theme in themes if theme["locale"] == each.language]
        signatures = [theme["signature"] for theme in earlier]
        topics = each.model.topics_
        matched = match_topics([topic.signature for topic in topics], signatures, threshold=threshold)
        target_of_topic: list[int] = []
        seen: list[int] = []
        for topic, index in zip(topics, matched, strict=True):
            signature = topic.signature
            if index is None:
                theme_id = await queries.insert_theme(
                    conn,
                    locale=each.language,
                    label=label_for(topic.top_words),
                    top_words=topic.top_words,
                    signature=signature,
                    run_id=run_id,
                )
                counts["new"] += 1
                target_of_topic.append(theme_id)
                seen.append(theme_id)
                continue
            theme_id = earlier[index]["id"]
            await queries.update_theme_found(
                conn, theme_id, top_words=topic.top_words, signature=signature, run_id=run_id
            )
            counts["kept"] += 1
            seen.append(theme_id)
            target_of_topic.append(final[theme_id])
        counts["themes"] = len(topics)
        await queries.rest_unfound_themes(conn, locale=each.language, found=seen)
        await queries.clear_assignments(conn, each.response_ids)
        chosen = [
            (rid, target_of_topic[label], weight)
            for rid, label, weight in zip(each.response_ids, each.labels, each.weights, strict=True)
            if label >= 0
        ]
        if chosen:
            ids, theme_ids, weights = map(list, zip(*chosen, strict=True))
            await queries.insert_assignments(
                conn, response_ids=ids, theme_ids=theme_ids, weights=weights, run_id=run_id
            )
    await queries.count_comments(conn)
    return summary


def _final(theme_id: int, themes: list[dict]) -> int:
    """The theme that holds a theme's comments: itself, or where a merge chain ends."""
    by_id = {theme["id"]: theme for theme in themes}
    seen = set()
    while by_id[theme_id]["merged_into"] is not None and theme_id not in seen:
        seen.add(theme_id)
        theme_id = by_id[theme_id]["merged_into"]
    return theme_id


async def list_themes(conn: queries.Conn, *, locale: str | None, include_merged: bool) -> ThemeList:
    rows = await queries.list_themes(conn, locale=locale, include_merged=include_merged)
    return ThemeList(items=[Theme(**row) for row in rows])


def _known_id(theme_id: int) -> int:
    """Ids are positive 64-bit numbers; any other number names no theme (never a database error)."""
    if not 1 <= theme_id <= MAX_ID:
        raise NotFound(f"No theme {theme_id}.")
    return theme_id


async def get_theme(conn: queries.Conn, theme_id: int, *, examples: int = EXAMPLES) -> ThemeDetail:
    row = await queries.get_theme(conn, _known_id(theme_id))
    if row is None:
        raise NotFound(f"No theme {theme_id}.")
    quoted = await queries.theme_examples(conn, theme_id, limit=examples)
    return ThemeDetail(theme=Theme(**row), examples=[ThemeExample(**example) for example in quoted])


async def rename_theme(
    conn: asyncpg.Connection,
    theme_id: int,
    *,
    label: str,
    actor: str,
    actor_type: str,
    actor_id: str,
    request_id: str | None,
) -> Theme:
    label = " ".join(label.split())
    _known_id(theme_id)
    async with conn.transaction():
        await queries.lock_themes(conn)
        if await queries.lock_theme(conn, theme_id) is None:
            raise NotFound(f"No theme {theme_id}.")
        await queries.rename_theme(conn, theme_id, label=label, actor=actor)
        # an API key's action is audited by respond_idempotently, with the route; a console user's here
        if actor_type == "user":
            await record_audit(
                conn,
                actor_type=actor_type,
                actor_id=actor_id,
                action="theme.rename",
                target_type="theme",
                target_id=str(theme_id),
                request_id=request_id,
            )
        return Theme(**await queries.get_theme(conn, theme_id))  # type: ignore[arg-type]


async def merge_theme(
    conn: asyncpg.Connection,
    theme_id: int,
    *,
    into: int,
    actor: str,
    actor_type: str,
    actor_id: str,
    request_id: str | None,
) -> Theme:
    """Merge `theme_id` into `into`; returns the theme that holds the comments now."""
    _known_id(theme_id)
    if theme_id == into:
        raise InvalidInput(
            "A theme cannot be merged into itself.",
            errors=[{"field": "into", "message": "must be another theme", "source": "body"}],
        )
    async with conn.transaction():
        await queries.lock_themes(conn)
        source = await queries.lock_theme(conn, theme_id)
        if source is None:
            raise NotFound(f"No theme {theme_id}.")
        target = await queries.lock_theme(conn, into)
        if target is None:
            raise InvalidInput(
                f"No theme {into} to merge into.",
                errors=[{"field": "into", "message": "no such theme", "source": "body"}],
            )
        if source["status"] == "merged":
            raise Conflict(f"Theme {theme_id} was merged into theme {source['merged_into']} already.")
        if target["status"] == "merged":
            raise InvalidInput(
                f"Theme {into} was merged into theme {target['merged_into']}; merge into that one.",
                errors=[{"field": "into", "message": "merged into another theme", "source": "body"}],
            )
        await queries.merge_theme(conn, theme_id, into=into, actor=actor)
        await queries.count_comments(conn)
        # an API key's action is audited by respond_idempotently, with the route; a console user's here
        if actor_type == "user":
            await record_audit(
                conn,
                actor_type=actor_type,
                actor_id=actor_id,
                action="theme.merge",
                target_type="theme",
                target_id=str(theme_id),
                request_id=request_id,
            )
        return Theme(**await queries.get_theme(conn, into))  # type: ignore[arg-type]


class ThemeRunJob:
    """The outbox handler for TOPIC."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def __call__(self, job: Job) -> None:
        await execute_run(
            self.pool, UUID(job.payload["run_id"]), settings=self.settings, now=datetime.now(UTC)
        )


class ThemeScheduler:
    """Asks for a run when the last one is older than themes_refresh_hours and new comments came in.

    Safe on any number of processes: the database holds one run at a time, so a second
    process asking at the same moment gets the first one's run back."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.every = timedelta(hours=settings.themes_refresh_hours)
        self.interval = settings.themes_check_seconds

    async def check(self) -> ThemeRun | None:
        if self.every <= timedelta(0):
            return None
        async with self.pool.acquire() as conn:
            if not await queries.run_due(conn, every=self.every):
                return None
            run, started = await request_run(conn, actor="scheduler")
        return run if started else None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except (asyncpg.PostgresError, OSError) as error:
                log.warning("theme scheduler check failed", error=str(error))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

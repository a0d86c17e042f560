"""The background work a process runs: `serve` runs it beside the API, `worker` alone.

Each runner works until its stop event is set and must be safe with any number of
processes doing the same (leases and SKIP LOCKED, never in-process state).
"""

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import structlog

from feedback_svc.alerts.sender import AlertSender
from feedback_svc.console.session_sweeper import SessionSweeper
from feedback_svc.outbox.handlers import build_outbox_worker
from feedback_svc.recovery.escalation import EscalationSweeper
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.scheduler import ScoringScheduler
from feedback_svc.settings import Settings
from feedback_svc.themes.service import ThemeScheduler
from feedback_svc.webhooks.delivery import WebhookDeliverer

log = structlog.get_logger(__name__)

Runner = Callable[[asyncio.Event], Awaitable[None]]


def background_runners(
    pool: asyncpg.Pool, settings: Settings, *, http: httpx.AsyncClient, scorers: ScorerCache | None = None
) -> dict[str, Runner]:
    """name -> runner; each domain with periodic work adds its own here. `scorers`: the process's
    loaded models, shared with its API when it serves one."""
    return {
        "outbox-worker": build_outbox_worker(pool, settings, http=http).run,
        "recovery-escalation": EscalationSweeper(
            pool, interval=settings.recovery_sweep_seconds, settings=settings
        ).run,
        # its own HTTP client too: Slack-compatible URLs are guarded like webhook targets
        "alert-sender": AlertSender(pool, settings).run,
        "console-session-sweeper": SessionSweeper(pool).run,
        # asks for a theme run when one is due; the outbox worker (any process) does it
        "theme-scheduler": ThemeScheduler(pool, settings).run,
        # scheduled scoring, and runs asked for over the API or the CLI (scoring/runs.py)
        "scoring-scheduler": ScoringScheduler(pool, settings, scorers=scorers).run,
        # its own HTTP client: guarded against private targets, no redirects, no env proxies
        "webhook-deliverer": WebhookDeliverer(
            pool, allow_private=settings.webhooks_allow_private, timeout=settings.webhooks_timeout_seconds
        ).run,
    }


async def run_all(runners: dict[str, Runner], stop: asyncio.Event) -> None:
    """Run every runner until `stop`; one that crashes is logged and does not stop the rest."""

    async def guarded(name: str, runner: Runner) -> None:
        try:
            await runner(stop)
        except Exception:
            log.exception("background runner crashed", runner=name)

    await asyncio.gather(*(guarded(name, runner) for name, runner in runners.items()))

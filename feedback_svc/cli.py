"""feedback-svc serve | worker | migrate | downgrade | create-key | list-keys | revoke-key | import | ..."""

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from uuid import UUID

import msgspec
import structlog

from feedback_svc.settings import Settings, SettingsError, describe_settings

log = structlog.get_logger("feedback_svc.cli")


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as error:
        raise SystemExit(f"feedback-svc: configuration error: {error}") from None


@contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a database URL: the configured one, or the embedded server's."""
    if settings.database_url is not None:
        yield settings
        return
    from feedback_svc.db.embedded import embedded_database

    with embedded_database(settings.data_dir) as url:
        yield msgspec.structs.replace(settings, database_url=url).with_secret()


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from feedback_svc.app import create_app
    from feedback_svc.db import migrate

    settings = _settings()
    if args.host:
        settings = msgspec.structs.replace(settings, host=args.host)
    if args.port:
        settings = msgspec.structs.replace(settings, port=args.port)
    with database(settings) as settings, _stop_signals_end_serving():
        assert settings.database_url is not None
        if settings.migrate_on_start:
            migrate.upgrade(settings.database_url)
            log.info("migrated", revision=migrate.head_revision())
        _banner(settings)
        common = uvicorn_options(settings)
        if settings.workers > 1:
            os.environ["DATABASE_URL"] = settings.database_url
            os.environ["FEEDBACK_SECRET_KEY"] = settings.secret_key or ""
            uvicorn.run("feedback_svc.asgi:app_from_env", factory=True, workers=settings.workers, **common)
        else:
            uvicorn.run(create_app(settings), **common)
    log.info("stopped")


def uvicorn_options(settings: Settings) -> dict[str, object]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "timeout_graceful_shutdown": 20,
        "access_log": False,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; the app believes it
        # only from FEEDBACK_TRUSTED_PROXIES (app.py)
        "proxy_headers": False,
    }


@contextmanager
def _stop_signals_end_serving() -> Iterator[None]:
    """Let SIGTERM/SIGINT end `serve` normally, so the embedded database is stopped.

    uvicorn shuts down gracefully on a signal and then raises it again with the
    handlers it found installed. With Python's defaults that kills the process
    before our clean-up runs (and leaves PostgreSQL running); with these no-op
    handlers `uvicorn.run` simply returns and the `with` blocks unwind.
    """
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _banner(settings: Settings) -> None:
    where = (
        f"embedded PostgreSQL, data in {settings.data_dir / 'pgdata'}"
        if os.environ.get("DATABASE_URL") is None
        else "DATABASE_URL"
    )
    print(
        f"\nfeedback-svc is starting at {settings.base_url}\n"
        f"  database:  {where}\n"
        f"  API docs:  {settings.base_url}/schema\n"
        f"  ready:     {settings.base_url}/health/ready\n"
        "  API key:   feedback-svc create-key --name my-crm --scope crm   (in another terminal)\n",
        flush=True,
    )


def cmd_worker(_: argparse.Namespace) -> None:
    from feedback_svc.db import migrate

    with database(_settings()) as settings:
        assert settings.database_url is not None
        if settings.migrate_on_start:
            migrate.upgrade(settings.database_url)
        asyncio.run(_run_worker(settings))
    log.info("stopped")


async def _run_worker(settings: Settings) -> None:
    import httpx

    from feedback_svc.background import background_runners, run_all
    from feedback_svc.db.pool import create_pool

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    assert settings.database_url is not None
    pool = await create_pool(settings, settings.database_url)
    try:
        async with httpx.AsyncClient() as http:
            await run_all(background_runners(pool, settings, http=http), stop)
    finally:
        await pool.close()


def cmd_migrate(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate

    with database(_settings()) as settings:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url, args.revision)
        print(f"migrated to {args.revision}")


def cmd_downgrade(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate

    with database(_settings()) as settings:
        assert settings.database_url is not None
        migrate.downgrade(settings.database_url, args.revision)
        print(f"downgraded to {args.revision}")


def cmd_create_key(args: argparse.Namespace) -> None:
    from feedback_svc.apikeys.service import create_api_key
    from feedback_svc.db.pool import connect
    from feedback_svc.lib.errors import AppError

    async def run(url: str) -> None:
        conn = await connect(url)
        try:
            created = await create_api_key(conn, name=args.name, scopes=args.scope, agent=args.agent)
        except AppError as error:
            raise SystemExit(f"feedback-svc: {error.detail}") from None
        finally:
            await conn.close()
        print(created.key)
        acts_for = f", acts for agent {created.api_key.agent!r}" if created.api_key.agent else ""
        print(
            f"# API key {created.api_key.name!r} ({created.api_key.id}), scopes: "
            f"{', '.join(created.api_key.scopes)}{acts_for}. It is shown only now; only its hash is stored.",
            file=sys.stderr,
        )

    with database(_settings()) as settings:
        assert settings.database_url is not None
        asyncio.run(run(settings.database_url))


def cmd_list_keys(_: argparse.Namespace) -> None:
    from feedback_svc.apikeys.queries import list_api_keys
    from feedback_svc.db.pool import connect

    async def run(url: str) -> None:
        conn = await connect(url)
        try:
            for key in await list_api_keys(conn):
                state = "revoked" if key.revoked_at else "active"
                agent = f"  (agent {key.agent})" if key.agent else ""
                print(f"{key.id}  {key.prefix}  {state:8}  {','.join(key.scopes):16}  {key.name}{agent}")
        finally:
            await conn.close()

    with database(_settings()) as settings:
        assert settings.database_url is not None
        asyncio.run(run(settings.database_url))


def cmd_revoke_key(args: argparse.Namespace) -> None:
    from feedback_svc.apikeys.service import revoke_api_key
    from feedback_svc.db.pool import connect
    from feedback_svc.lib.errors import AppError

    async def run(url: str) -> None:
        conn = await connect(url)
        try:
            key = await revoke_api_key(conn, args.key_id)
        except AppError as error:
            raise SystemExit(f"feedback-svc: {error.detail}") from None
        finally:
            await conn.close()
        print(f"revoked {key.id} ({key.name})")

    with database(_settings()) as settings:
        assert settings.database_url is not None
        asyncio.run(run(settings.database_url))


def _read_new_password() -> str:
    """From the terminal (asked twice, not echoed) or from stdin: never from argv, which others can see."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters, not easy to guess): ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("feedback-svc: the two passwords differ; nothing was created")
    return first


def cmd_create_user(args: argparse.Namespace) -> None:
    from feedback_svc.db.pool import connect
    from feedback_svc.lib.errors import AppError
    from feedback_svc.users.service import create_user

    password = _read_new_password()

    async def run(url: str) -> None:
        conn = await connect(url)
        try:
            user = await create_user(
                conn,
                email=args.email,
                name=args.name,
                role=args.role,
                password=password,
                time_zone=args.time_zone,
            )
        except AppError as error:
            raise SystemExit(f"feedback-svc: {error.detail}") from None
        finally:
            await conn.close()
        print(f"created {user.role} {user.email} ({user.id}); log in at /console/login")

    with database(_settings()) as settings:
        assert settings.database_url is not None
        asyncio.run(run(settings.database_url))


def _horizon_days(text: str) -> int:
    days = int(text)
    if not 7 <= days <= 730:
        raise argparse.ArgumentTypeError(f"{days} is not between 7 and 730 days")
    return days


def cmd_train(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate
    from feedback_svc.scoring import commands

    with database(_settings()) as settings:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url)
        asyncio.run(
            commands.train(
                settings,
                activate=args.activate,
                force=args.force,
                horizon_days=args.horizon_days,
                as_of=args.as_of,
            )
        )


def cmd_score_all(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate
    from feedback_svc.scoring import commands

    with database(_settings()) as settings:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url)
        run = asyncio.run(commands.score_all(settings, lanes=args.lanes))
    raise SystemExit(0 if run["status"] == "succeeded" else 1)


def cmd_themes(_: argparse.Namespace) -> None:
    from feedback_svc.db import migrate
    from feedback_svc.themes.commands import run_themes

    with database(_settings()) as settings:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url)
        code = asyncio.run(run_themes(settings))
    raise SystemExit(code)


def cmd_import(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate
    from feedback_svc.imports import commands

    if not args.file.is_file():
        raise SystemExit(f"feedback-svc import: no file {args.file}")
    fmt = commands.format_of(args.file, args.format)
    with database(_settings()) as settings:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url)
        code = asyncio.run(
            commands.run_import(settings, args.file, kind=args.kind, fmt=fmt, time_zone=args.time_zone)
        )
    raise SystemExit(code)


def cmd_demo(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate
    from feedback_svc.demo.service import run_demo, summary

    with database(_settings()) as settings:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url)
        demo = asyncio.run(run_demo(settings, customers=args.customers, seed=args.seed))
        print(summary(demo, settings, customers=args.customers))


def cmd_openapi(args: argparse.Namespace) -> None:
    from feedback_svc.lib.openapi_file import render_openapi

    text = render_openapi()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            raise SystemExit(f"{args.output} is out of date: run `feedback-svc openapi`")
        print(f"{args.output} is up to date")
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")


def _parser() -> argparse.ArgumentParser:
    settings_help = "\n".join(
        f"  {name:32} {kind:28} {default}" for name, kind, default in describe_settings()
    )
    parser = argparse.ArgumentParser(
        prog="feedback-svc",
        description="Customer-feedback surveys, churn scoring and a recovery queue.",
        epilog="Settings (environment variables, type, default):\n" + settings_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the HTTP service (embedded PostgreSQL without DATABASE_URL)"
    )
    serve.add_argument("--host", help="listen address (FEEDBACK_HOST)")
    serve.add_argument("--port", type=int, help="listen port (FEEDBACK_PORT)")
    serve.set_defaults(run=cmd_serve)

    commands.add_parser(
        "worker", help="run the background work (the outbox, webhooks, scheduled scoring) until SIGTERM"
    ).set_defaults(run=cmd_worker)

    up = commands.add_parser("migrate", help="apply database migrations")
    up.add_argument("--revision", default="head")
    up.set_defaults(run=cmd_migrate)

    down = commands.add_parser("downgrade", help="revert database migrations (e.g. to 'base')")
    down.add_argument("revision")
    down.set_defaults(run=cmd_downgrade)

    key = commands.add_parser("create-key", help="create an API key and print it once")
    key.add_argument("--name", required=True)
    key.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=["crm", "agent", "admin", "metrics"],
        help="repeat for several scopes (metrics: read /metrics only, for Prometheus)",
    )
    key.add_argument(
        "--agent",
        help="with --scope agent: the agent this key's recovery work is done as (to act as a console "
        "user, their email); a key without it works only unassigned tasks",
    )
    key.set_defaults(run=cmd_create_key)

    commands.add_parser("list-keys", help="list API keys (never their secrets)").set_defaults(
        run=cmd_list_keys
    )

    revoke = commands.add_parser("revoke-key", help="revoke an API key by id")
    revoke.add_argument("key_id", type=UUID)
    revoke.set_defaults(run=cmd_revoke_key)

    person = commands.add_parser(
        "create-user", help="create a console account; the password is prompted for or read from stdin"
    )
    person.add_argument("--email", required=True)
    person.add_argument("--name", required=True)
    person.add_argument("--role", required=True, choices=["agent", "manager"])
    person.add_argument(
        "--time-zone", default="UTC", help="the zone console times are shown in, e.g. Europe/Berlin"
    )
    person.set_defaults(run=cmd_create_user)

    training = commands.add_parser(
        "train", help="train a churn/loyalty model on this database, print its card, register it"
    )
    training.add_argument("--activate", action="store_true", help="activate it if it beats the active model")
    training.add_argument("--force", action="store_true", help="with --activate: activate it in any case")
    training.add_argument(
        "--horizon-days",
        type=_horizon_days,
        metavar="DAYS",
        help="churn horizon (7-730; default FEEDBACK_CHURN_HORIZON_DAYS)",
    )
    training.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        metavar="TIME",
        help="train as if it were then, e.g. 2026-06-30T00:00:00+00:00 (a model of the past, to backtest)",
    )
    training.set_defaults(run=cmd_train)

    _add_scheduled_work(commands)

    bulk = commands.add_parser(
        "import",
        help="import customers, events or interactions from a CSV or NDJSON file (exit 3: some rows refused)",
    )
    bulk.add_argument("file", type=Path)
    bulk.add_argument("--kind", choices=["customers", "events", "interactions"], required=True)
    bulk.add_argument("--format", choices=["csv", "ndjson"], help="default: from the file's extension")
    bulk.add_argument("--time-zone", default="UTC", help="for dates without a UTC offset (default UTC)")
    bulk.set_defaults(run=cmd_import)

    demo = commands.add_parser(
        "demo",
        help="fill the database with simulated customers, console accounts and recovery work, train a "
        "model, print API keys",
    )
    demo.add_argument("--customers", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(run=cmd_demo)

    spec = commands.add_parser("openapi", help="write openapi/openapi.json from the app")
    spec.add_argument("--output", type=Path, default=Path("openapi/openapi.json"))
    spec.add_argument("--check", action="store_true", help="fail if the file differs from the app")
    spec.set_defaults(run=cmd_openapi)
    return parser


def _add_scheduled_work(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Commands that do now, in the foreground, what the background runners do on a schedule."""
    commands.add_parser(
        "themes", help="find the comment themes now (per language) and print them"
    ).set_defaults(run=cmd_themes)
    scoring = commands.add_parser(
        "score-all",
        help="score every active customer now and open the day's proactive tasks (joins a run in progress)",
    )
    scoring.add_argument(
        "--lanes",
        type=int,
        default=2,
        choices=range(1, 17),
        metavar="N",
        help="ranges scored at once by this process (1-16, default 2)",
    )
    scoring.set_defaults(run=cmd_score_all)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    from feedback_svc.lib.logging import configure_logging

    configure_logging(_settings() if args.command in ("serve", "worker") else Settings(log_format="console"))
    args.run(args)


if __name__ == "__main__":
    main()

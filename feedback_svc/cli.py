"""feedback-svc serve | worker | migrate | downgrade | create-key | list-keys | revoke-key | import | ..."""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TypeAlias
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
def database(settings: Settings, *, schema: bool = True) -> Iterator[Settings]:
    """Settings with a database URL: the configured one, or the embedded server's.

    With `schema`, the database is at this version's schema when the block starts: migrated
    here (FEEDBACK_MIGRATE_ON_START, the default), or refused in one line saying what to run.
    """
    if settings.database_url is not None:
        if schema:
            _ensure_schema(settings, settings.database_url)
        yield settings
        return
    from feedback_svc.db.embedded import embedded_database

    with embedded_database(settings.data_dir) as url:
        if schema:
            _ensure_schema(settings, url)
        yield msgspec.structs.replace(settings, database_url=url).with_secret()


def _ensure_schema(settings: Settings, url: str) -> None:
    from feedback_svc.db import revisions

    current, head = revisions.current_revision(url), revisions.head_revision()
    if current == head:
        return
    if settings.migrate_on_start:
        from feedback_svc.db import migrate  # alembic only when there is something to migrate

        print(f"feedback-svc: migrating the database to {head}", file=sys.stderr, flush=True)
        migrate.upgrade(url)
        return
    raise SystemExit(
        f"feedback-svc: the database is at revision {current or '(none)'}, this version needs {head}: "
        "run `feedback-svc migrate` first (FEEDBACK_MIGRATE_ON_START=false)"
    )


def cmd_serve(args: argparse.Namespace) -> None:
    from feedback_svc.lib.dev_only import refuse_dev_only_packages
    from feedback_svc.lib.malloc_arenas import limit_malloc_arenas

    refuse_dev_only_packages()  # before the app imports scikit-learn: see lib/dev_only.py
    limit_malloc_arenas()  # before the serving threads start: see lib/malloc_arenas.py
    import uvicorn

    from feedback_svc.db import revisions

    settings = _settings()
    if args.host:
        settings = msgspec.structs.replace(settings, host=args.host)
    if args.port:  # 0 is not a setting's value: _listen binds it below
        settings = msgspec.structs.replace(settings, port=args.port)
    settings = _with_mailbox(settings, args)
    with database(settings, schema=False) as settings, _stop_signals_end_serving():
        assert settings.database_url is not None
        head = revisions.head_revision()
        if settings.migrate_on_start and revisions.current_revision(settings.database_url) != head:
            _migrate_apart(settings)
            log.info("migrated", revision=head)
        bound, listener = _listen(settings, port=args.port, port_file=args.port_file)
        _banner(bound, mailbox=args.mailbox)
        common = uvicorn_options(bound)
        if listener is not None:
            common["fd"] = listener.fileno()
        if bound.workers > 1:
            os.environ["DATABASE_URL"] = bound.database_url
            os.environ["FEEDBACK_SECRET_KEY"] = bound.secret_key or ""
            os.environ["FEEDBACK_PORT"] = str(bound.port)  # the bound one, for base_url
            if args.mailbox:
                os.environ.update(_mailbox_environment(bound))
            uvicorn.run("feedback_svc.asgi:app_from_env", factory=True, workers=bound.workers, **common)
        else:
            # only here: with several workers this process supervises them, and the app's imports
            # (scikit-learn, SciPy, Litestar) would cost it ~170 MiB it never uses
            from feedback_svc.app import create_app

            uvicorn.run(create_app(bound), **common)
        if listener is not None:
            listener.close()
    log.info("stopped")


def _listen(
    settings: Settings, *, port: int | None, port_file: Path | None
) -> tuple[Settings, socket.socket | None]:
    """With --port 0 or --port-file: bind the listening socket here and hand it to the server.

    Binding here (not in uvicorn) is how the port the system chose is known before serving
    starts: it goes into the settings (so base_url and the banner name it) and into
    `port_file`, written whole (a reader never sees half a number) once the socket is bound.
    A script or test that starts `serve --port 0 --port-file F` waits for F to appear and has
    a port nobody else can take, unlike one picked free beforehand and released.
    """
    if port != 0 and port_file is None:
        return settings, None
    wanted = settings.port if port != 0 else 0
    try:
        family = socket.getaddrinfo(settings.host, None, type=socket.SOCK_STREAM)[0][0]
        listener = socket.create_server((settings.host, wanted), family=family)
    except OSError as error:  # one line naming the address, not a hint about the database
        raise SystemExit(
            f"feedback-svc serve: cannot listen on {settings.host}:{wanted}: {error.strerror}"
        ) from None
    settings = msgspec.structs.replace(settings, port=listener.getsockname()[1])
    if port_file is not None:
        partial = port_file.with_name(port_file.name + ".partial")
        partial.write_text(f"{settings.port}\n", encoding="utf-8")
        partial.replace(port_file)
    return settings, listener


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


def _with_mailbox(settings: Settings, args: argparse.Namespace) -> Settings:
    """With --mailbox, email and SMS go to `feedback-svc mailbox` on this machine."""
    if not args.mailbox:
        return settings
    from feedback_svc.delivery.mailbox import mailbox_settings

    smtp_port, sms_port = args.mailbox_ports
    return msgspec.structs.replace(settings, **mailbox_settings(smtp_port=smtp_port, sms_port=sms_port))


def _mailbox_environment(settings: Settings) -> dict[str, str]:
    """--mailbox's settings as variables, for the worker processes `serve` starts."""
    from feedback_svc.delivery.mailbox import mailbox_settings
    from feedback_svc.settings import ENV_NAMES

    return {
        ENV_NAMES[field]: str(getattr(settings, field))
        for field, value in mailbox_settings().items()
        if value
    }


def _banner(settings: Settings, *, mailbox: bool = False) -> None:
    where = (
        f"embedded PostgreSQL, data in {settings.data_dir / 'pgdata'}"
        if os.environ.get("DATABASE_URL") is None
        else "DATABASE_URL"
    )
    if mailbox:
        sending = (
            f"to `feedback-svc mailbox` (SMTP {settings.smtp_host}:{settings.smtp_port}, "
            f"SMS {settings.sms_base_url})"
        )
    elif settings.smtp_host:
        sending = f"email through {settings.smtp_host}:{settings.smtp_port}"
    else:
        sending = (
            "no SMTP set: invitations wait (to see them, run `feedback-svc mailbox` and `serve --mailbox`)"
        )
    print(
        f"\nfeedback-svc is starting at {settings.base_url}\n"
        f"  database:  {where}\n"
        f"  console:   {settings.base_url}/console/login   (feedback-svc create-user, or feedback-svc demo)\n"
        f"  API docs:  {settings.base_url}/schema\n"
        f"  ready:     {settings.base_url}/health/ready\n"
        f"  sending:   {sending}\n"
        "  API key:   feedback-svc create-key --name my-crm --scope crm   (in another terminal)\n",
        flush=True,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    with database(_with_mailbox(_settings(), args)) as settings:
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


def _migrate_apart(settings: Settings) -> None:
    """`feedback-svc migrate` in a child process: alembic, SQLAlchemy and psycopg (about 25 MiB)
    would otherwise stay in the serving process's memory for its whole life (db/revisions.py).
    The child gets the database this process settled on (the embedded one's URL, say)."""
    assert settings.database_url is not None
    assert settings.secret_key
    subprocess.run(
        [sys.executable, "-m", "feedback_svc.cli", "migrate"],
        env={**os.environ, "DATABASE_URL": settings.database_url, "FEEDBACK_SECRET_KEY": settings.secret_key},
        check=True,
        stdout=sys.stderr,
    )


def cmd_migrate(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate

    with database(_settings(), schema=False) as settings:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url, args.revision)
        print(f"migrated to {args.revision}")


def cmd_downgrade(args: argparse.Namespace) -> None:
    from feedback_svc.db import migrate

    with database(_settings(), schema=False) as settings:
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
    from feedback_svc.scoring import commands

    with database(_settings()) as settings:
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
    from feedback_svc.imports import commands

    if not args.file.is_file():
        raise SystemExit(f"feedback-svc import: no file {args.file}")
    fmt = commands.format_of(args.file, args.format)
    with database(_settings()) as settings:
        code = asyncio.run(
            commands.run_import(settings, args.file, kind=args.kind, fmt=fmt, time_zone=args.time_zone)
        )
    raise SystemExit(code)


def cmd_demo(args: argparse.Namespace) -> None:
    from feedback_svc.demo.service import run_demo, summary

    with database(_settings()) as settings:
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


def cmd_mailbox(args: argparse.Namespace) -> None:
    from feedback_svc.delivery.mailbox import Mailbox, run_mailbox

    def started(smtp_port: int, sms_port: int) -> None:
        print(
            f"feedback-svc mailbox: SMTP on {args.host}:{smtp_port}, SMS API on "
            f"http://{args.host}:{sms_port}; each email and SMS is shown here"
            + (f" and saved in {args.save}" if args.save else "")
            + ".\nStart the service with `feedback-svc serve --mailbox` to send to it. Ctrl-C stops.\n",
            flush=True,
        )

    with suppress(KeyboardInterrupt):
        asyncio.run(
            run_mailbox(
                Mailbox(save_dir=args.save),
                host=args.host,
                smtp_port=args.smtp_port,
                sms_port=args.sms_port,
                started=started,
            )
        )


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _command(
    commands: Commands,
    name: str,
    *,
    help: str,
    examples: tuple[str, ...],
    description: str | None = None,
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=help,
        description=textwrap.fill(description or help[0].upper() + help[1:] + ".", 88),
        epilog=_examples(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    settings_help = "\n".join(
        f"  {name:32} {kind:28} {default}" for name, kind, default in describe_settings()
    )
    parser = argparse.ArgumentParser(
        prog="feedback-svc",
        description="Customer-feedback surveys, churn scoring and a recovery queue.\n"
        "`feedback-svc COMMAND --help` shows a command's options and examples.",
        epilog=_examples(
            "feedback-svc serve                      # the service, on an embedded PostgreSQL",
            "feedback-svc create-key --name my-crm --scope crm",
            "feedback-svc demo                       # simulated customers, console accounts, a model",
        )
        + "\n\nSettings (environment variables, type, default):\n"
        + settings_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_service_commands(commands)
    _add_access_commands(commands)
    _add_data_commands(commands)
    return parser


def _add_service_commands(commands: Commands) -> None:
    serve = _command(
        commands,
        "serve",
        help="run the HTTP service (embedded PostgreSQL without DATABASE_URL)",
        description="Run the HTTP service and its background work. Without DATABASE_URL it starts an "
        "embedded PostgreSQL in FEEDBACK_DATA_DIR; migrations run first (FEEDBACK_MIGRATE_ON_START).",
        examples=(
            "feedback-svc serve",
            "feedback-svc serve --mailbox          # email and SMS go to `feedback-svc mailbox`",
            "FEEDBACK_WORKERS=4 DATABASE_URL=postgresql://... FEEDBACK_SECRET_KEY=... feedback-svc serve",
        ),
    )
    serve.add_argument("--host", help="listen address (FEEDBACK_HOST, default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, help="listen port (FEEDBACK_PORT, default 8000; 0: one the system picks)"
    )
    serve.add_argument(
        "--port-file",
        type=Path,
        metavar="PATH",
        help="once listening, write the port to PATH (one line): how a script learns the port of --port 0",
    )
    _mailbox_option(serve)
    serve.set_defaults(run=cmd_serve)

    worker = _command(
        commands,
        "worker",
        help="run the background work (the outbox, webhooks, scheduled scoring) until SIGTERM",
        examples=(
            "FEEDBACK_RUN_WORKERS=false feedback-svc serve   # and, beside it:",
            "feedback-svc worker",
        ),
    )
    _mailbox_option(worker)
    worker.set_defaults(run=cmd_worker)

    up = _command(
        commands,
        "migrate",
        help="apply database migrations",
        examples=(
            "feedback-svc migrate",
            "DATABASE_URL=postgresql://user:pass@db/feedback feedback-svc migrate",
        ),
    )
    up.add_argument("--revision", default="head", help="the revision to reach (default: head, the latest)")
    up.set_defaults(run=cmd_migrate)

    down = _command(
        commands,
        "downgrade",
        help="revert database migrations (e.g. to 'base')",
        examples=("feedback-svc downgrade base      # remove every table",),
    )
    down.add_argument("revision", help="the revision to go back to, or 'base' for none")
    down.set_defaults(run=cmd_downgrade)

    mailbox = _command(
        commands,
        "mailbox",
        help="a development mail catcher: show every email and SMS that `serve --mailbox` sends",
        description="A development mail catcher: listens for SMTP and for the SMS provider's API on this "
        "machine and shows every email and SMS as it arrives; nothing is sent on. Start the service "
        "with `feedback-svc serve --mailbox` (or set FEEDBACK_SMTP_HOST/_PORT/_SECURITY=none and "
        "FEEDBACK_SMS_BASE_URL to these addresses yourself).",
        examples=(
            "feedback-svc mailbox                 # in one terminal",
            "feedback-svc serve --mailbox         # in another",
            "feedback-svc mailbox --save mail/    # also keep each email as .eml and .html",
        ),
    )
    mailbox.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    mailbox.add_argument(
        "--smtp-port",
        type=int,
        default=1025,
        help="SMTP port (default 1025; 0: one the system picks, printed)",
    )
    mailbox.add_argument(
        "--sms-port",
        type=int,
        default=1026,
        help="SMS API port (default 1026; 0: one the system picks, printed)",
    )
    mailbox.add_argument(
        "--save", type=Path, metavar="DIR", help="also save each email there (.eml and .html)"
    )
    mailbox.set_defaults(run=cmd_mailbox)

    spec = _command(
        commands,
        "openapi",
        help="write openapi/openapi.json from the app",
        examples=("feedback-svc openapi", "feedback-svc openapi --check   # in CI: fail when it drifts"),
    )
    spec.add_argument(
        "--output", type=Path, default=Path("openapi/openapi.json"), help="default openapi/openapi.json"
    )
    spec.add_argument("--check", action="store_true", help="fail if the file differs from the app")
    spec.set_defaults(run=cmd_openapi)


def _add_access_commands(commands: Commands) -> None:
    key = _command(
        commands,
        "create-key",
        help="create an API key and print it once",
        description="Create an API key and print it once on stdout (only its hash is stored).",
        examples=(
            "KEY=$(feedback-svc create-key --name my-crm --scope crm)",
            "feedback-svc create-key --name ana-laptop --scope agent --agent ana",
            "feedback-svc create-key --name ops --scope admin",
        ),
    )
    key.add_argument("--name", required=True, help="what the key is for, shown by list-keys")
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

    _command(
        commands,
        "list-keys",
        help="list API keys (never their secrets)",
        examples=("feedback-svc list-keys",),
    ).set_defaults(run=cmd_list_keys)

    revoke = _command(
        commands,
        "revoke-key",
        help="revoke an API key by id",
        examples=("feedback-svc revoke-key 3f0c6f7e-5d7b-4a43-9d59-1c1c1d4f2a10   # an id from list-keys",),
    )
    revoke.add_argument("key_id", type=UUID, help="the key's id, from list-keys")
    revoke.set_defaults(run=cmd_revoke_key)

    person = _command(
        commands,
        "create-user",
        help="create a console account; the password is prompted for or read from stdin",
        examples=(
            'feedback-svc create-user --email ana@example.com --name "Ana" --role manager',
            "pass show ana | feedback-svc create-user --email ana@example.com --name Ana --role agent",
        ),
    )
    person.add_argument("--email", required=True, help="the login, and the name tasks are assigned to")
    person.add_argument("--name", required=True, help="shown in the console")
    person.add_argument(
        "--role", required=True, choices=["agent", "manager"], help="managers also see analytics and users"
    )
    person.add_argument(
        "--time-zone", default="UTC", help="the zone console times are shown in, e.g. Europe/Berlin"
    )
    person.set_defaults(run=cmd_create_user)


def _add_data_commands(commands: Commands) -> None:
    training = _command(
        commands,
        "train",
        help="train a churn/loyalty model on this database, print its card, register it",
        examples=(
            "feedback-svc train --activate",
            "feedback-svc train --horizon-days 180 --as-of 2026-06-30T00:00:00+00:00",
        ),
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

    _command(
        commands,
        "themes",
        help="find the comment themes now (per language) and print them",
        examples=("feedback-svc themes",),
    ).set_defaults(run=cmd_themes)

    scoring = _command(
        commands,
        "score-all",
        help="score every active customer now and open the day's proactive tasks (joins a run in progress)",
        description="Start a scoring run (or join the one running) and work on it here until it ends: every "
        "active customer scored with the active model, the day's proactive tasks opened for the highest "
        "value at risk (docs/scheduled-scoring.md). Other processes share the work. Exit 1: it ended failed.",
        examples=("feedback-svc score-all", "feedback-svc score-all --lanes 4"),
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

    bulk = _command(
        commands,
        "import",
        help="import customers, events or interactions from a CSV or NDJSON file (exit 3: some rows refused)",
        examples=(
            "feedback-svc import customers.csv --kind customers",
            "feedback-svc import orders.ndjson --kind events --time-zone Europe/Berlin",
        ),
    )
    bulk.add_argument("file", type=Path, help="a .csv or .ndjson file (columns: docs/imports.md)")
    bulk.add_argument(
        "--kind", choices=["customers", "events", "interactions"], required=True, help="what each row is"
    )
    bulk.add_argument("--format", choices=["csv", "ndjson"], help="default: from the file's extension")
    bulk.add_argument("--time-zone", default="UTC", help="for dates without a UTC offset (default UTC)")
    bulk.set_defaults(run=cmd_import)

    demo = _command(
        commands,
        "demo",
        help="fill the database with simulated customers, console accounts and recovery work, train a "
        "model, print API keys",
        examples=("feedback-svc demo", "feedback-svc demo --customers 500 --seed 7"),
    )
    demo.add_argument(
        "--customers", type=int, default=2000, help="how many customers to simulate (default 2000)"
    )
    demo.add_argument("--seed", type=int, default=1, help="the simulation's random seed (default 1)")
    demo.set_defaults(run=cmd_demo)


def _mailbox_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--mailbox",
        action="store_true",
        help="send email and SMS to `feedback-svc mailbox` on this machine (SMTP 127.0.0.1:1025, "
        "SMS http://127.0.0.1:1026) instead of FEEDBACK_SMTP_*/FEEDBACK_SMS_*",
    )
    command.add_argument(
        "--mailbox-ports",
        type=_port_pair,
        default=(1025, 1026),
        metavar="SMTP,SMS",
        help="with --mailbox: the mailbox's ports, when it was started with others (default 1025,1026)",
    )


def _port_pair(text: str) -> tuple[int, int]:
    try:
        smtp, sms = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not two ports, e.g. 1025,1026") from None
    return smtp, sms


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    from feedback_svc.lib.logging import configure_logging

    if args.command in ("serve", "worker"):
        configure_logging(_settings())
    else:
        # a command's own output, not the embedded server's and alembic's log lines, unless asked for
        asked = os.environ.get("FEEDBACK_LOG_LEVEL")
        configure_logging(
            Settings(log_format="console", log_level=_settings().log_level if asked else "WARNING")
        )
    try:
        args.run(args)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as error:
        # one line a person can act on; the traceback only when asked for
        if os.environ.get("FEEDBACK_LOG_LEVEL", "").upper() == "DEBUG":
            raise
        raise SystemExit(f"feedback-svc {args.command}: {describe_error(error)}") from None


def describe_error(error: BaseException) -> str:
    """One line for an unexpected failure: what happened, and how to see more."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    if isinstance(error, OSError | ConnectionError) or type(error).__module__.startswith(
        ("asyncpg", "psycopg")
    ):
        return (
            f"{text} (is the database reachable? check DATABASE_URL)"
            if "DATABASE_URL" in os.environ
            else text
        )
    return f"{text} ({type(error).__name__}; FEEDBACK_LOG_LEVEL=DEBUG shows the traceback)"


if __name__ == "__main__":
    main()

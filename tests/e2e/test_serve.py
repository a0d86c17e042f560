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
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import wait_for

START_TIMEOUT = 90.0


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


def service_env(data_dir: Path, home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.update({"FEEDBACK_DATA_DIR": str(data_dir), "FEEDBACK_LOG_FORMAT": "json"})
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
    port: int = 0
    output: str = ""  # everything it printed, once it has stopped

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def read_port(port_file: Path) -> int | None:
    """The port `serve --port-file` wrote, or None while it has not (it writes the file whole)."""
    try:
        return int(port_file.read_text())
    except FileNotFoundError:
        return None


def is_ready(service: Service) -> bool:
    if service.process.poll() is not None:
        raise AssertionError(f"serve exited early:\n{service.process.communicate()[0]}")
    try:
        return request("GET", f"{service.base_url}/health/ready")[0] == 200
    except OSError:  # listening, but the app not yet accepting
        return False


@contextmanager
def running_service(env: dict[str, str], port_file: Path, user: str | None = None) -> Iterator[Service]:
    """`serve --port 0`: the system picks a port nobody else holds, and serve writes it to `port_file`."""
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "feedback_svc.cli", "serve", "--port", "0", "--port-file", str(port_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        user=user,
        cwd=env.get("HOME"),
    )
    service = Service(process)
    try:

        def bound() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{process.communicate()[0]}")
            return read_port(port_file)

        service.port = wait_for(bound, what=f"serve to write its port to {port_file}", timeout=START_TIMEOUT)
        wait_for(lambda: is_ready(service), what="GET /health/ready to answer 200", timeout=START_TIMEOUT)
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            service.output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            service.output = process.communicate()[0]


def exercise_restart(data_dir: Path, env: dict[str, str], user: str | None = None) -> None:
    port_file = data_dir.parent / "serve.port"  # beside the data: writable by `user` too
    with running_service(env, port_file, user) as first:
        created = cli("create-key", "--name", "e2e", "--scope", "crm", env=env, user=user)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("fsk_")
        status, customer = request(
            "POST", f"{first.base_url}/v1/customers", {"external_id": "e2e-1", "value": 10}, key
        )
        assert status == 201, customer
    assert first.process.returncode == 0, "serve should exit cleanly on SIGTERM"
    output = first.output
    assert "embedded_postgres_ready" in output
    assert str(data_dir / "pgdata") in output
    # the banner names the port the system picked, not the default
    assert f"feedback-svc is starting at http://localhost:{first.port}" in output
    # the embedded server was shut down with the service
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()

    with running_service(env, port_file, user) as second:
        status, again = request("GET", f"{second.base_url}/v1/customers/{customer['id']}", key=key)
        assert status == 200, again
        assert again["external_id"] == "e2e-1"


def test_serve_on_embedded_postgres_survives_a_restart(server_folder: Path) -> None:
    data_dir = server_folder / "data"
    exercise_restart(data_dir, service_env(data_dir))


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
    exercise_restart(data_dir, service_env(data_dir, home=home), user=user)
    assert (data_dir / "pgdata").stat().st_uid == pwd.getpwnam(user).pw_uid

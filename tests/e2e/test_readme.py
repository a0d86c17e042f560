"""The README, run as written: its shell blocks, in order, in one shell, against a fresh service.

A block after `<!-- readme-test: skip (...) -->` is not run (the install commands); one after
`<!-- readme-test: background -->` is started and left running (the mailbox, the service). The
rest run as one bash script with `set -euo pipefail`, in a folder where `.venv` is this test's
own environment, so `.venv/bin/feedback-svc` is the code under test. Only the ports change: the
mailbox and the service listen on port 0 (ports the system picks, so the test never meets a
service a person runs on this machine); the mailbox prints its ports, serve writes its port to
`--port-file`, and the blocks are run with those in place of 1025/1026 and 8000.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.test_serve import read_port, request
from tests.waiting import wait_for

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<mark>\w+)[^>]*-->\n)?```sh\n(?P<code>.*?)```", re.DOTALL)
PASSWORD = "plum-harbor-quietly-7-lantern"  # what create-user reads from stdin (no terminal here)
READY_SECONDS = 120.0
SCRIPT_SECONDS = 240.0
PROBLEM = re.compile(r'"status":\s*[45]\d\d')


@dataclass(frozen=True)
class Block:
    mark: str | None
    code: str


def readme_blocks() -> list[Block]:
    return [
        Block(match["mark"], match["code"]) for match in BLOCK.finditer(README.read_text(encoding="utf-8"))
    ]


@dataclass(frozen=True)
class Ports:
    api: int
    smtp: int
    sms: int

    def apply(self, code: str) -> str:
        return code.replace("localhost:8000", f"localhost:{self.api}").replace(
            "127.0.0.1:1026", f"127.0.0.1:{self.sms}"
        )


MAILBOX_STARTED = re.compile(
    r"SMTP on 127\.0\.0\.1:(?P<smtp>\d+), SMS API on http://127\.0\.0\.1:(?P<sms>\d+)"
)


def on_any_ports(code: str, *, port_file: Path) -> str:
    """A background block moved to ports the system picks: the mailbox prints its, serve writes its."""
    replaced = code.replace("feedback-svc mailbox", "feedback-svc mailbox --smtp-port 0 --sms-port 0")
    replaced = replaced.replace(
        "feedback-svc serve --mailbox", f"feedback-svc serve --mailbox --port 0 --port-file {port_file}"
    )
    assert replaced != code, f"a background block this test does not know how to move to free ports:\n{code}"
    return replaced


def with_mailbox_ports(code: str, smtp: int, sms: int) -> str:
    serve = "feedback-svc serve --mailbox"
    return code.replace(serve, f"{serve} --mailbox-ports {smtp},{sms}")


def test_the_blocks_are_marked_as_this_test_expects() -> None:
    blocks = readme_blocks()
    background = [block.code for block in blocks if block.mark == "background"]
    assert any("feedback-svc mailbox" in code for code in background)
    assert any("feedback-svc serve --mailbox" in code for code in background)
    assert {block.mark for block in blocks} <= {None, "skip", "background"}
    # the two commands the README opens with: install and serve, install and test (.ci/run runs the latter)
    skipped = [block.code.strip() for block in blocks if block.mark == "skip"]
    assert skipped[0].endswith(".venv/bin/feedback-svc serve")
    assert skipped[1] == "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    assert skipped[1] in (README.parent / ".ci" / "run").read_text(encoding="utf-8")


@pytest.fixture
def workdir(server_folder: Path) -> Path:
    """A folder like a fresh checkout's: `.venv` is this interpreter's environment."""
    if not (Path(sys.prefix) / "bin" / "feedback-svc").exists():
        pytest.skip(
            f"README test: no feedback-svc in {sys.prefix}/bin (run the tests from the project's virtualenv)"
        )
    for tool in ("curl", "python3", "bash"):
        if shutil.which(tool) is None:
            pytest.skip(f"README test: the README's examples need {tool}, which is not installed")
    (server_folder / ".venv").symlink_to(sys.prefix)
    return server_folder


def readme_env(workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "TEST_DATABASE_URL") and not k.startswith("FEEDBACK_")
    }
    env["FEEDBACK_DATA_DIR"] = str(workdir / "data")
    return env


@contextmanager
def background(code: str, *, cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a block as a person would in a terminal of its own; stop it (SIGTERM, then SIGKILL) after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", code],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def check_running(processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    for process, log in zip(processes, logs, strict=True):
        if process.poll() is not None:
            pytest.fail(f"{log.stem} exited early:\n{log.read_text(errors='replace')[-3000:]}")


def mailbox_ports(process: subprocess.Popen[bytes], log: Path) -> tuple[int, int]:
    """The SMTP and SMS ports the mailbox printed once it listens."""

    def printed() -> re.Match[str] | None:
        check_running([process], [log])
        return MAILBOX_STARTED.search(log.read_text(errors="replace"))

    found = wait_for(printed, what="the mailbox to print its ports", timeout=READY_SECONDS)
    return int(found["smtp"]), int(found["sms"])


def wait_until_ready(port_file: Path, processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> int:
    """The port serve wrote, once GET /health/ready answers 200 on it."""

    def bound() -> int | None:
        check_running(processes, logs)
        return read_port(port_file)

    port = wait_for(bound, what=f"serve to write its port to {port_file}", timeout=READY_SECONDS)

    def ready() -> bool:
        check_running(processes, logs)
        try:
            return request("GET", f"http://127.0.0.1:{port}/health/ready")[0] == 200
        except OSError:
            return False

    wait_for(ready, what="GET /health/ready to answer 200", timeout=READY_SECONDS)
    return port


def test_the_walkthrough_runs_as_written(workdir: Path, tmp_path: Path) -> None:
    blocks = readme_blocks()
    env = readme_env(workdir)
    logs = [tmp_path / f"{name}.log" for name in ("mailbox", "serve")]
    port_file = tmp_path / "serve.port"
    mailbox_code, serve_code = (
        on_any_ports(block.code, port_file=port_file) for block in blocks if block.mark == "background"
    )

    with ExitStack() as stack:
        # the mailbox first: serve is told the ports it got
        processes = [stack.enter_context(background(mailbox_code, cwd=workdir, env=env, log=logs[0]))]
        smtp, sms = mailbox_ports(processes[0], logs[0])
        serve_code = with_mailbox_ports(serve_code, smtp, sms)
        processes.append(stack.enter_context(background(serve_code, cwd=workdir, env=env, log=logs[1])))
        ports = Ports(api=wait_until_ready(port_file, processes, logs), smtp=smtp, sms=sms)
        script = "set -euo pipefail\n" + "\n".join(
            ports.apply(block.code) for block in blocks if block.mark is None
        )
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=workdir,
            env=env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=SCRIPT_SECONDS,
            check=False,
        )
        mailbox = logs[0].read_text(errors="replace")
        assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        out = done.stdout
        assert not PROBLEM.findall(out), f"a request was refused:\n{out}"
        assert '"reason":"queued: email"' in out
        survey_url = re.search(rf"http://localhost:{ports.api}/s/\S+", out)
        assert survey_url is not None, out
        with urllib.request.urlopen(
            survey_url.group(0).replace("localhost", "127.0.0.1"), timeout=10
        ) as page:
            assert page.status == 200
        assert '"outcome":"recovered"' in out
        assert '"scored":1' in out
        assert '"secret":"whsec_' in out
        assert "created manager morgan@example.com" in out
        # what the customers and the CRM got, in the mailbox's terminal
        assert "To:      ben@example.com" in mailbox, mailbox
        assert "/s/" in mailbox
        # the script waited for the delivery to succeed; the mailbox prints it a moment later
        wait_for(
            lambda: "Type:    response.created" in logs[0].read_text(errors="replace"),
            what="the mailbox to print the response.created webhook",
            timeout=20,
        )

"""The command line as a newcomer meets it: help with examples, a fresh data folder, one-line errors."""

import argparse
import contextlib
import io
import os
import socket
import subprocess
from pathlib import Path

import pytest

from feedback_svc.cli import _listen, _parser
from feedback_svc.settings import Settings
from tests.e2e.test_serve import cli
from tests.listening import held_port, port_of

COMMANDS = sorted(next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices)


def fresh_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.pop("FEEDBACK_LOG_LEVEL", None)
    env.update({"FEEDBACK_DATA_DIR": str(data_dir), **extra})
    return env


def assert_one_line_error(done: subprocess.CompletedProcess[str], *, mentions: str) -> None:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert mentions in lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_lists_its_options_with_examples(command: str) -> None:
    parser = _parser()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        parser.parse_args([command, "--help"])
    assert exited.value.code == 0
    text = out.getvalue()
    assert "\nexamples:\n" in text
    assert f"  feedback-svc {command}" in text or f"feedback-svc {command} " in text
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    for action in sub._actions:
        for option in action.option_strings:
            assert option in text
        if action.help is None and action.dest != "help":
            pytest.fail(f"{command}: {action.dest} has no help text")


def test_key_commands_work_on_a_fresh_data_folder(server_folder: Path) -> None:
    env = fresh_env(server_folder / "data")
    created = cli("create-key", "--name", "first", "--scope", "crm", env=env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("fsk_")
    assert "Traceback" not in created.stderr
    listed = cli("list-keys", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "first" in listed.stdout
    unknown = cli("revoke-key", "3f0c6f7e-5d7b-4a43-9d59-1c1c1d4f2a10", env=env)
    assert_one_line_error(unknown, mentions="No API key with id")


def test_a_database_not_yet_migrated_says_what_to_run(server_folder: Path) -> None:
    env = fresh_env(server_folder / "data", FEEDBACK_MIGRATE_ON_START="false")
    done = cli("list-keys", env=env)
    assert_one_line_error(done, mentions="run `feedback-svc migrate`")


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with held_port() as nothing_listens:  # connections to it are refused
        env = fresh_env(
            tmp_path,
            DATABASE_URL=f"postgresql://nobody@127.0.0.1:{port_of(nothing_listens)}/feedback",
            FEEDBACK_SECRET_KEY="s" * 40,
        )
        done = cli("create-key", "--name", "x", "--scope", "crm", env=env)
    assert_one_line_error(done, mentions="feedback-svc create-key:")


def test_a_mailbox_whose_port_is_taken_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("mailbox", "--sms-port", str(port), "--smtp-port", "0", env=fresh_env(tmp_path))
    assert_one_line_error(done, mentions=f"cannot listen on 127.0.0.1:{port}")


def test_usage_errors_name_the_problem(tmp_path: Path) -> None:
    done = cli("create-key", "--name", "x", env=fresh_env(tmp_path))
    assert done.returncode == 2
    assert "--scope" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_on_port_0_binds_first_and_writes_the_port_it_got(tmp_path: Path) -> None:
    args = _parser().parse_args(["serve", "--port", "0", "--port-file", str(tmp_path / "port")])
    settings, listener = _listen(Settings(), port=args.port, port_file=args.port_file)
    assert listener is not None
    with listener:
        bound = listener.getsockname()[1]
        assert bound != 0
        assert settings.port == bound  # so base_url and the banner name it
        assert (tmp_path / "port").read_text() == f"{bound}\n"
        assert not (tmp_path / "port.partial").exists()


def test_serve_without_port_0_or_a_port_file_leaves_binding_to_the_server() -> None:
    settings, listener = _listen(Settings(port=8123), port=8123, port_file=None)
    assert listener is None
    assert settings.port == 8123


def test_serve_on_a_port_in_use_with_a_port_file_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=rf"cannot listen on 127\.0\.0\.1:{port}: "):
            _listen(Settings(port=port), port=port, port_file=tmp_path / "port")
    assert not (tmp_path / "port").exists()

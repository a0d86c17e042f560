import logging
from collections.abc import Iterator

import pytest
import structlog

from feedback_svc.lib.logging import configure_logging
from feedback_svc.settings import Settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_an_error_log_never_prints_the_locals_that_hold_secrets(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_format=log_format))  # type: ignore[arg-type]

    def fail(webhook_secret: str) -> None:
        raise RuntimeError("delivery failed")

    secret = "whsec_" + "do-not-print-me"  # built, so no source line in the traceback shows it
    try:
        fail(secret)
    except RuntimeError:
        logging.getLogger("feedback_svc.test").exception("unhandled")
    printed = capsys.readouterr().err
    assert "delivery failed" in printed  # the traceback is there
    assert "whsec_do-not-print-me" not in printed  # its locals are not

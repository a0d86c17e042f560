"""What the outbox is told for each way an SMTP send can fail, without a server."""

import ssl
from email.message import EmailMessage

import aiosmtplib
import pytest

from feedback_svc.delivery.email._smtp_errors import classify_smtp_error
from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.errors import (
    DeliveryError,
    PermanentDeliveryError,
    SettingsDeliveryError,
    TransientDeliveryError,
)
from feedback_svc.settings import Settings


def classify(error: Exception) -> DeliveryError:
    return classify_smtp_error(
        error, server="smtp.example.com:587", security="starttls", username="mailer", timeout=30
    )


async def test_send_without_a_host_says_which_variable_to_set() -> None:
    sender = SmtpSender(Settings(smtp_host=None))

    with pytest.raises(SettingsDeliveryError, match=r"^SMTP is not configured: set FEEDBACK_SMTP_HOST$"):
        await sender.send(EmailMessage())


def test_rejected_login_waits_for_the_settings_and_names_them() -> None:
    error = classify(aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Authentication credentials invalid"))

    assert isinstance(error, SettingsDeliveryError)
    assert isinstance(error, TransientDeliveryError)
    assert "535 5.7.8 Authentication credentials invalid" in str(error)
    assert "'mailer'" in str(error)
    assert "FEEDBACK_SMTP_USERNAME and FEEDBACK_SMTP_PASSWORD" in str(error)


def test_temporary_login_failure_is_transient() -> None:
    error = classify(aiosmtplib.SMTPAuthenticationError(454, "4.7.0 Temporary authentication failure"))

    assert type(error) is TransientDeliveryError


def test_refused_sender_points_at_mail_from() -> None:
    error = classify(aiosmtplib.SMTPSenderRefused(553, "5.7.1 Sender not allowed", "x@example.com"))

    assert isinstance(error, SettingsDeliveryError)
    assert "FEEDBACK_MAIL_FROM" in str(error)


def test_missing_starttls_support_waits_for_the_settings_and_names_them() -> None:
    error = classify(aiosmtplib.SMTPNotSupported("SMTP STARTTLS extension not supported by server."))

    assert isinstance(error, SettingsDeliveryError)
    assert "FEEDBACK_SMTP_SECURITY=starttls" in str(error)


@pytest.mark.parametrize("code", [421, 450, 451, 452])
def test_4xx_replies_are_transient(code: int) -> None:
    assert isinstance(classify(aiosmtplib.SMTPDataError(code, "try again later")), TransientDeliveryError)


@pytest.mark.parametrize("code", [550, 552, 554])
def test_5xx_replies_are_permanent(code: int) -> None:
    assert isinstance(classify(aiosmtplib.SMTPDataError(code, "no")), PermanentDeliveryError)


def test_untrusted_certificate_is_retried_and_explained() -> None:
    handshake = ssl.SSLCertVerificationError(1, "certificate verify failed")
    handshake.verify_message = "certificate has expired"
    try:
        try:
            raise handshake
        except ssl.SSLError as cause:
            raise aiosmtplib.SMTPConnectError("Error connecting") from cause
    except aiosmtplib.SMTPConnectError as wrapped:
        error = classify(wrapped)

    assert isinstance(error, TransientDeliveryError)
    assert "certificate has expired" in str(error)

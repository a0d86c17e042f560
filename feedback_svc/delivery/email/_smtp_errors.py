"""Turn what aiosmtplib raises into the outbox's two outcomes, with a message a person can act on.

4xx replies and anything on the way to the server (refused connection, timeout, dropped line,
TLS handshake) are worth retrying; 5xx replies are the server's final word on this message.
Except where the refusal is about our own settings rather than the message: a refused login or
sender, or a relay that cannot do the security the settings ask for, would refuse every message
alike, and every one goes through once an operator fixes the settings. Those are
SettingsDeliveryError (retried, for longer), so a bad password does not fail a day's surveys.
"""

import ssl

import aiosmtplib

from feedback_svc.delivery.errors import (
    DeliveryError,
    PermanentDeliveryError,
    SettingsDeliveryError,
    TransientDeliveryError,
)


def classify_smtp_error(
    error: Exception, *, server: str, security: str, username: str | None, timeout: float
) -> DeliveryError:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = {refusal.recipient: (refusal.code, refusal.message) for refusal in error.recipients}
        return refused_recipients_error(codes, server=server)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        text = _describe_reply(error, server=server, username=username)
        if error.code < 500:
            return TransientDeliveryError(text)
        if isinstance(error, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPSenderRefused):
            return SettingsDeliveryError(text)
        return PermanentDeliveryError(text)
    # aiosmtplib raises the bare base class when the server lacks STARTTLS or AUTH: the
    # settings ask for something this relay cannot do, and every message would fail alike.
    if isinstance(error, aiosmtplib.SMTPNotSupported) or type(error) is aiosmtplib.SMTPException:
        return SettingsDeliveryError(
            f"SMTP server {server} cannot do what the settings ask for ({error.message}); check "
            f"FEEDBACK_SMTP_SECURITY={security} (starttls is usually port 587, tls port 465) and "
            "whether the relay wants FEEDBACK_SMTP_USERNAME at all"
        )
    return TransientDeliveryError(_describe_transport(error, server=server, timeout=timeout))


def refused_recipients_error(codes: dict[str, tuple[int, str]], *, server: str) -> DeliveryError:
    """Permanent only when every refusal is final (5xx); one 4xx makes a retry worthwhile."""
    details = "; ".join(f"{address}: {code} {message}" for address, (code, message) in codes.items())
    text = f"SMTP server {server} refused the recipient ({details})"
    if all(code >= 500 for code, _ in codes.values()):
        return PermanentDeliveryError(text)
    return TransientDeliveryError(text)


def _describe_reply(error: aiosmtplib.SMTPResponseException, *, server: str, username: str | None) -> str:
    reply = f"{error.code} {error.message}"
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return (
            f"SMTP server {server} rejected the login as {username!r}: {reply}; "
            "check FEEDBACK_SMTP_USERNAME and FEEDBACK_SMTP_PASSWORD"
        )
    if isinstance(error, aiosmtplib.SMTPSenderRefused):
        return (
            f"SMTP server {server} refused the sender {error.sender}: {reply}; "
            "check that FEEDBACK_MAIL_FROM is an address this relay may send from"
        )
    return f"SMTP server {server} answered {reply}"


def _describe_transport(error: Exception, *, server: str, timeout: float) -> str:
    if isinstance(error, TimeoutError):
        return f"SMTP server {server} did not answer within {timeout:g} s: {error}"
    certificate_error = _certificate_error(error)
    if certificate_error is not None:
        # Retried rather than dropped: an expired or mismatched certificate is fixed on the
        # relay, and the invitations should go out once it is.
        return (
            f"The TLS certificate of SMTP server {server} is not trusted "
            f"({certificate_error.verify_message}); the relay must present a valid certificate "
            "for FEEDBACK_SMTP_HOST"
        )
    return (
        f"Could not talk to SMTP server {server}: {error}; check FEEDBACK_SMTP_HOST, "
        "FEEDBACK_SMTP_PORT and FEEDBACK_SMTP_SECURITY and that the relay is up"
    )


def _certificate_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    # aiosmtplib wraps a failed handshake in SMTPConnectError on connect (implicit TLS) but lets
    # it through as is after STARTTLS; look along the chain for either.
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None

"""Hand a rendered message to the configured SMTP relay, one connection per message."""

import ssl
import time
from email.message import EmailMessage

import aiosmtplib

from feedback_svc.delivery.email._smtp_errors import classify_smtp_error, refused_recipients_error
from feedback_svc.delivery.errors import SettingsDeliveryError
from feedback_svc.settings import Settings

DEFAULT_TIMEOUT = 30.0
# After a refused login, sends fail at once for this long instead of logging in again: relays
# lock the account (or ban our address) after a run of bad passwords, and a backlog of waiting
# invitations would otherwise spend one login each. A fixed password is used after the pause.
LOGIN_PAUSE_SECONDS = 300.0


class SmtpSender:
    """Sends over SMTP as FEEDBACK_SMTP_* says; failures become Transient/Permanent/SettingsDeliveryError.

    A connection per message costs a TCP (and TLS) handshake and a login each time, but holds
    nothing between sends: no stale connections, nothing to share between tasks or processes.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        tls_context: ssl.SSLContext | None = None,
        login_pause: float = LOGIN_PAUSE_SECONDS,
    ) -> None:
        # timeout bounds each step (connect, TLS, every command), not the whole conversation.
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._username = settings.smtp_username
        self._password = settings.smtp_password
        self._security = settings.smtp_security
        self._mail_from = settings.mail_from
        self._timeout = timeout
        self._tls_context = tls_context
        self._login_pause = login_pause
        self._login_refused: tuple[float, str] | None = None  # (monotonic time to try again, why)

    async def send(self, message: EmailMessage) -> None:
        """Deliver to every To/Cc/Bcc recipient; the envelope sender is FEEDBACK_MAIL_FROM."""
        if self._host is None:
            raise SettingsDeliveryError("SMTP is not configured: set FEEDBACK_SMTP_HOST")
        if self._login_refused is not None:
            retry_at, why = self._login_refused
            if time.monotonic() < retry_at:
                raise SettingsDeliveryError(f"{why} (not tried again within {self._login_pause:g} s)")
            self._login_refused = None
        server = f"{self._host}:{self._port}"
        try:
            refused, _ = await aiosmtplib.send(
                message,
                sender=self._mail_from,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password if self._username is not None else None,
                use_tls=self._security == "tls",
                # True, not None: when STARTTLS is asked for, never fall back to plain text.
                start_tls=self._security == "starttls",
                timeout=self._timeout,
                tls_context=self._tls_context,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            failure = classify_smtp_error(
                error, server=server, security=self._security, username=self._username, timeout=self._timeout
            )
            if isinstance(error, aiosmtplib.SMTPAuthenticationError) and isinstance(
                failure, SettingsDeliveryError
            ):
                self._login_refused = (time.monotonic() + self._login_pause, str(failure))
            raise failure from error
        if refused:
            # Some recipients took it and some did not: only a multi-recipient message gets here.
            codes = {address: (response.code, response.message) for address, response in refused.items()}
            raise refused_recipients_error(codes, server=server)

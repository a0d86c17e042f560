"""Sends one SMS through a provider API shaped like Twilio's Messages API.

Errors are sorted for the outbox: TransientDeliveryError when a later attempt can succeed
(429, 5xx, timeouts, no connection), PermanentDeliveryError when only a person can fix the
message, SettingsDeliveryError (retried for longer) when our own settings or account are wrong.
"""

from urllib.parse import quote

import httpx
import msgspec

from feedback_svc.delivery.errors import PermanentDeliveryError, SettingsDeliveryError, TransientDeliveryError
from feedback_svc.settings import ENV_NAMES, Settings

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)

# Twilio's code for "the recipient replied STOP": the caller should record a suppression.
UNSUBSCRIBED_RECIPIENT = 21610

# 408 and 429 say "not now"; 5xx says the provider failed, not the request.
_RETRY_STATUSES = frozenset({408, 429})


class _MessageCreated(msgspec.Struct):
    sid: str


class _ProviderError(msgspec.Struct):
    code: int | None = None
    message: str | None = None
    more_info: str | None = None


class SmsRefused(PermanentDeliveryError):
    """The provider refused the request; `code` is its error code (21610: the recipient sent STOP)."""

    def __init__(self, message: str, *, status: int, code: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class SmsClient:
    """One provider account; pass `http` to reuse connections (the caller closes it)."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        self._base_url = settings.sms_base_url.rstrip("/")
        self._account_sid = settings.sms_account_sid
        self._auth_token = settings.sms_auth_token
        self._from = settings.sms_from
        self._http = http
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)

    @property
    def configured(self) -> bool:
        return not self._missing_settings()

    async def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        """Hand one message to the provider; returns its message sid.

        The idempotency key goes to the provider so that a send retried after a crash between
        its request and our commit is not delivered twice: reuse it for every attempt.
        """
        sid, token, sender = self._account()
        url = f"{self._base_url}/2010-04-01/Accounts/{quote(sid, safe='')}/Messages.json"
        response = await self._post(
            url,
            data={"To": to, **_sender_field(sender), "Body": body},
            auth=(sid, token),
            headers={IDEMPOTENCY_HEADER: idempotency_key, "Accept": "application/json"},
        )
        if response.is_success:
            try:
                return msgspec.json.decode(response.content, type=_MessageCreated).sid
            except msgspec.DecodeError:
                # Accepted, yet no sid to record; retrying under the same idempotency key is safe.
                raise TransientDeliveryError(
                    f"SMS provider answered {response.status_code} without a message sid"
                ) from None
        raise _error_for(response, to=to)

    async def _post(
        self, url: str, *, data: dict[str, str], auth: tuple[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        try:
            if self._http is not None:
                return await self._http.post(
                    url, data=data, auth=auth, headers=headers, timeout=self._timeout
                )
            async with httpx.AsyncClient() as http:
                return await http.post(url, data=data, auth=auth, headers=headers, timeout=self._timeout)
        except httpx.TimeoutException as error:
            raise TransientDeliveryError(f"SMS provider did not answer in time: {error!r}") from error
        except httpx.UnsupportedProtocol as error:
            raise SettingsDeliveryError(
                f"{ENV_NAMES['sms_base_url']}={self._base_url!r} is not an http(s) URL"
            ) from error
        except httpx.TransportError as error:
            raise TransientDeliveryError(
                f"SMS provider unreachable at {self._base_url}: {error!r}"
            ) from error
        except httpx.InvalidURL as error:
            raise SettingsDeliveryError(
                f"{ENV_NAMES['sms_base_url']}={self._base_url!r} is not a valid URL: {error}"
            ) from error

    def _account(self) -> tuple[str, str, str]:
        sid, token, sender = self._account_sid, self._auth_token, self._from
        if not (sid and token and sender):
            raise SettingsDeliveryError(f"SMS is not configured: set {', '.join(self._missing_settings())}")
        return sid, token, sender

    def _missing_settings(self) -> list[str]:
        values = {
            "sms_account_sid": self._account_sid,
            "sms_auth_token": self._auth_token,
            "sms_from": self._from,
        }
        return [ENV_NAMES[field] for field, value in values.items() if not value]


def _sender_field(sender: str) -> dict[str, str]:
    # A Messaging Service sid (MG + 32 hex) lets the provider pick the number, as US A2P requires.
    if sender.startswith("MG") and len(sender) == 34:
        return {"MessagingServiceSid": sender}
    return {"From": sender}


def _error_for(response: httpx.Response, *, to: str) -> TransientDeliveryError | SmsRefused:
    status = response.status_code
    error = _provider_error(response)
    detail = _describe(error)
    if status in _RETRY_STATUSES or status >= 500:
        return TransientDeliveryError(f"SMS provider answered {status}, try again later{detail}")
    # Our credentials or account, not this message: every send fails alike until an operator
    # fixes the settings, so the messages wait (as with SMTP) instead of failing for good.
    if status in (401, 403):
        return SettingsDeliveryError(
            f"SMS provider refused our credentials ({status}): check {ENV_NAMES['sms_account_sid']} "
            f"and {ENV_NAMES['sms_auth_token']}{detail}"
        )
    if status == 404:
        return SettingsDeliveryError(
            f"SMS provider has no such account or endpoint (404): check {ENV_NAMES['sms_base_url']} "
            f"and {ENV_NAMES['sms_account_sid']}{detail}"
        )
    if status < 400:
        message = f"SMS provider answered {status} instead of 201: check {ENV_NAMES['sms_base_url']}"
    else:
        message = f"SMS provider refused the message to {to} ({status}){detail}"
    return SmsRefused(message, status=status, code=error.code)


def _provider_error(response: httpx.Response) -> _ProviderError:
    try:
        return msgspec.json.decode(response.content, type=_ProviderError)
    except msgspec.DecodeError:  # an HTML error page from a proxy, or nothing at all
        return _ProviderError()


def _describe(error: _ProviderError) -> str:
    """Twilio's code and message name the exact problem (21211: the 'To' number is not valid)."""
    parts = [f"error {error.code}"] if error.code is not None else []
    if error.message:
        parts.append(error.message)
    text = ": ".join(parts)
    if error.more_info:
        text = f"{text} (see {error.more_info})" if text else f"see {error.more_info}"
    return f": {text}" if text else ""

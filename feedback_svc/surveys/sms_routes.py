"""The SMS provider's webhook: verify, store, queue, answer at once; sms_inbound.py does the rest."""

from typing import Any

import asyncpg
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from feedback_svc.delivery.sms.signature import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    signature_algorithm,
    verify_signature,
)
from feedback_svc.lib.errors import Forbidden, InvalidInput
from feedback_svc.lib.openapi import problem_responses
from feedback_svc.settings import Settings
from feedback_svc.surveys.sms_inbound import store_inbound

# Replies go out through the Messages API (the outbox), so the provider is told to send nothing.
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


class SmsInboundController(Controller):
    path = "/v1/inbound"
    tags = ["inbound"]
    opt = {"public": True}  # the provider signs its requests instead of sending an API key

    @post(
        "/sms",
        summary="Provider webhook for SMS replies (Twilio-style, form-encoded)",
        description=f"Signed with `{SIGNATURE_HEADER}` over this service's public URL and the form "
        f"fields: HMAC-SHA1 with the auth token or, when `{SIGNATURE_SETTINGS_HEADER}` comes along "
        "(`key=...,algorithm=HMAC_SHA256`), the algorithm it names with the webhook signing key "
        "(FEEDBACK_SMS_WEBHOOK_SIGNING_KEY, else the auth token); anything else is refused with 403. "
        "The message is stored and processed in the background; the answer is an empty TwiML "
        "document, and replies are sent separately. A redelivered MessageSid changes nothing.",
        status_code=200,
        media_type="text/xml",
        responses=problem_responses(403, 422),
    )
    async def receive_sms(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[bytes]:
        settings: Settings = request.app.state.settings
        form = await request.form()
        params = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
        signing = request.headers.get(SIGNATURE_SETTINGS_HEADER)
        algorithm = signature_algorithm(signing)
        # a webhook signed with a shared key says so in the settings header; without it, the
        # signature is the auth token's (as Twilio's own RequestValidator is told to check)
        secret = (settings.sms_webhook_signing_key if signing else None) or settings.sms_auth_token
        if not verify_signature(
            url=_public_url(settings, request),
            params=params,
            signature=request.headers.get(SIGNATURE_HEADER),
            auth_token=secret or "",
            algorithm=algorithm,
        ):
            raise Forbidden(
                f"The {SIGNATURE_HEADER} header is missing or does not match this request signed "
                f"with {algorithm} for {settings.base_url}{request.url.path} with the "
                + ("webhook signing key." if signing and settings.sms_webhook_signing_key else "auth token.")
            )
        fields = dict(params)
        message_sid, from_phone = fields.get("MessageSid", "").strip(), fields.get("From", "").strip()
        if not message_sid or not from_phone:
            missing = [
                name for name, value in (("MessageSid", message_sid), ("From", from_phone)) if not value
            ]
            raise InvalidInput(
                f"The message lacks {' and '.join(missing)}.",
                errors=[{"field": name, "message": "required"} for name in missing],
            )
        async with pool.acquire() as conn, conn.transaction():
            await store_inbound(
                conn, message_sid=message_sid, from_phone=from_phone, body=fields.get("Body", "")
            )
        return Response(content=EMPTY_TWIML, status_code=200, media_type="text/xml")


def _public_url(settings: Settings, request: Request[Any, Any, Any]) -> str:
    """The URL the provider requested, as configured: behind a proxy, request.url is not it."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{settings.base_url}{request.url.path}" + (f"?{query}" if query else "")

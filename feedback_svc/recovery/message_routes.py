"""HTTP for the closing messages' templates: agents read them, admins change them."""

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from feedback_svc.apikeys.service import Principal
from feedback_svc.lib.auth import requires_scope
from feedback_svc.lib.body import StrictBody
from feedback_svc.lib.idempotency import IdempotencyKey, respond_idempotently
from feedback_svc.lib.openapi import BEARER, problem_responses
from feedback_svc.recovery import messages
from feedback_svc.recovery.schemas import MessageTemplate, MessageTemplateUpdate, Outcome, TemplateLocale

AdminRequest = Request[Principal, Principal, State]
CHANGE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)
PLACEHOLDER_NOTE = (
    " Placeholders: {name} (the customer's name; without one it goes with the space before it, so "
    "'Hello {name},' reads 'Hello,'), {brand} and {agent} (who resolved the task). Any other word in "
    "braces is refused with 422, as are texts over their limits and line breaks in subject, greeting or sms."
)

_encoder = msgspec.json.Encoder()


class MessageTemplatesController(Controller):
    path = "/v1/recovery/message-templates"
    tags = ["recovery"]
    opt = requires_scope("agent")
    security = BEARER

    @get(
        "/",
        summary="The closing messages' templates, one per outcome and locale",
        description="A customer's message uses the template of their locale, else of its language, "
        "else English.",
        responses=problem_responses(401, 403),
    )
    async def list_templates(self, pool: NamedDependency[asyncpg.Pool]) -> list[MessageTemplate]:
        return await messages.list_templates(pool)

    @put(
        "/{outcome:str}/{locale:str}",
        summary="Create or change the template of an outcome in a locale (admin)",
        description="201 when the locale had no template for this outcome, 200 when it is changed."
        + PLACEHOLDER_NOTE,
        opt=requires_scope("admin"),
        dto=StrictBody[MessageTemplateUpdate],
        return_dto=None,
        status_code=200,
        responses={
            HTTP_201_CREATED: ResponseSpec(data_container=MessageTemplate, description="Template created"),
            **CHANGE_ERRORS,
        },
    )
    async def save_template(
        self,
        request: AdminRequest,
        *,
        pool: NamedDependency[asyncpg.Pool],
        outcome: FromPath[Outcome],
        locale: FromPath[TemplateLocale],
        data: JSONBody[MessageTemplateUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[MessageTemplate]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            template, created = await messages.save_template(
                conn, outcome=outcome, locale=locale, data=data, updated_by=f"{request.user.name} (API key)"
            )
            return (201 if created else 200), _encoder.encode(template)

        return await respond_idempotently(request, pool, idempotency_key, work)

    @delete(
        "/{outcome:str}/{locale:str}",
        summary="Remove the template of an outcome in a locale (admin); English stays",
        description="Customers of that locale then get the template of its language, else English (409).",
        opt=requires_scope("admin"),
        responses=CHANGE_ERRORS,
    )
    async def delete_template(
        self,
        request: AdminRequest,
        *,
        pool: NamedDependency[asyncpg.Pool],
        outcome: FromPath[Outcome],
        locale: FromPath[TemplateLocale],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[None]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            await messages.delete_template(conn, outcome=outcome, locale=locale)
            return 204, b""

        return await respond_idempotently(request, pool, idempotency_key, work)

"""Signing in through the real login form, as a browser would."""

import re

import asyncpg
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.users.schemas import User
from feedback_svc.users.service import create_user

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

Client = AsyncTestClient[Litestar]


def csrf_of(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def make_user(
    conn: asyncpg.Connection, *, email: str, role: str = "agent", name: str = "Pat Example"
) -> User:
    return await create_user(conn, email=email, name=name, role=role, password=PASSWORD)


async def log_in(client: Client, email: str, password: str = PASSWORD, *, next_path: str = "") -> Response:
    page = await client.get("/console/login")
    token = csrf_of(page.text)
    return await client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


async def page_token(client: Client, path: str = "/console") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)

"""Console sign-in, lock-out, CSRF, roles, logout and expiry against a real PostgreSQL."""

import asyncio
import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.users.console_helpers import PASSWORD, csrf_of, log_in, make_user, page_token

Client = AsyncTestClient[Litestar]
REFUSAL = "That email and password do not match an active account."


async def test_login_sets_a_hardened_cookie_and_stores_only_its_hash(
    client: Client, conn: asyncpg.Connection
) -> None:
    user = await make_user(conn, email="ana@example.com", role="manager")
    response = await log_in(client, "Ana@Example.com", next_path="/console/users")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/users"
    set_cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("fb_console="))
    assert "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie or "SameSite=Lax" in set_cookie
    assert "Max-Age=43200" in set_cookie
    assert "Secure" not in set_cookie  # the test app's base URL is plain http
    value = set_cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43  # 256 bits, urlsafe base64
    stored = await conn.fetchrow("SELECT token_hash, user_id, expires_at FROM user_sessions")
    assert stored["token_hash"] == hashlib.sha256(value.encode()).digest()
    assert stored["user_id"] == user.id
    assert timedelta(hours=11.9) < stored["expires_at"] - datetime.now(UTC) <= timedelta(hours=12)
    audit = await conn.fetchrow("SELECT actor_type, actor_id, action FROM audit_log")
    assert tuple(audit) == ("user", str(user.id), "console.login")
    assert (await client.get("/console/users")).status_code == 200


async def test_password_hash_is_argon2id(conn: asyncpg.Connection) -> None:
    await make_user(conn, email="hash@example.com")
    stored = await conn.fetchval("SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_five_failures_lock_the_account_without_revealing_it_exists(
    client: Client, conn: asyncpg.Connection
) -> None:
    await make_user(conn, email="bo@example.com")
    unknown = await log_in(client, "nobody@example.com", "wrong password!!")
    assert unknown.status_code == 401
    assert REFUSAL in unknown.text
    for _ in range(5):
        wrong = await log_in(client, "bo@example.com", "wrong password!!")
        assert wrong.status_code == 401
        assert REFUSAL in wrong.text
    row = await conn.fetchrow("SELECT failed_logins, locked_until FROM users")
    assert row["failed_logins"] == 5
    assert timedelta(minutes=14) < row["locked_until"] - datetime.now(UTC) <= timedelta(minutes=15)
    # the right password is refused while locked, with the very same words
    locked = await log_in(client, "bo@example.com")
    assert locked.status_code == 401
    assert locked.text.count(REFUSAL) == 1
    assert "locked for 15 minutes" in unknown.text  # every refusal explains the rule, none applies it
    assert await conn.fetchval("SELECT count(*) FROM user_sessions") == 0
    # once the lock has run out, the right password works and the count starts again
    await conn.execute("UPDATE users SET locked_until = now() - interval '1 second'")
    assert (await log_in(client, "bo@example.com")).status_code == 303
    assert await conn.fetchval("SELECT failed_logins FROM users") == 0


async def test_a_failure_after_an_expired_lock_does_not_relock(
    client: Client, conn: asyncpg.Connection
) -> None:
    await make_user(conn, email="cy@example.com")
    await conn.execute("UPDATE users SET failed_logins = 5, locked_until = now() - interval '1 minute'")
    await log_in(client, "cy@example.com", "wrong password!!")
    row = await conn.fetchrow("SELECT failed_logins, locked_until FROM users")
    assert (row["failed_logins"], row["locked_until"]) == (1, None)


async def test_login_form_without_its_token_is_refused(client: Client, conn: asyncpg.Connection) -> None:
    await make_user(conn, email="dee@example.com")
    await client.get("/console/login")
    forged = await client.post(
        "/console/login", data={"email": "dee@example.com", "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM user_sessions") == 0


async def test_forged_console_form_without_csrf_token_is_refused(
    client: Client, conn: asyncpg.Connection
) -> None:
    await make_user(conn, email="eve@example.com", role="manager")
    await log_in(client, "eve@example.com")
    form = {"name": "Mallory", "email": "mallory@example.com", "role": "manager", "password": "x" * 16}
    missing = await client.post("/console/users", data=form, follow_redirects=False)
    assert missing.status_code == 403
    assert "not sent from a console page" in missing.text
    wrong = await client.post("/console/users", data={**form, "csrf_token": "guess"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM users WHERE email = 'mallory@example.com'") == 0
    # a forged logout does nothing either
    assert (await client.post("/console/logout", data={}, follow_redirects=False)).status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM user_sessions") == 1


async def test_agent_cannot_open_manager_pages(client: Client, conn: asyncpg.Connection) -> None:
    await make_user(conn, email="fay@example.com", role="agent")
    await log_in(client, "fay@example.com")
    home = await client.get("/console")
    assert home.status_code == 200
    assert 'href="/console/users"' not in home.text
    token = csrf_of(home.text)
    for path in ("/console/users", "/console/analytics"):
        refused = await client.get(path, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "This page is for managers" in refused.text
    posted = await client.post(
        "/console/users",
        data={
            "csrf_token": token,
            "name": "X",
            "email": "x@example.com",
            "role": "manager",
            "password": "y" * 14,
        },
    )
    assert posted.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM users") == 1


async def test_pages_send_anonymous_visitors_to_login(client: Client) -> None:
    for path in ("/console", "/console/users", "/console/analytics"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/console/login?next={path}"
    # and the API-key middleware is not what answers
    assert (await client.get("/console/login")).headers["content-type"].startswith("text/html")


async def test_logout_ends_the_session_for_good(client: Client, conn: asyncpg.Connection) -> None:
    await make_user(conn, email="gus@example.com")
    await log_in(client, "gus@example.com")
    cookie = client.cookies.get("fb_console")
    token = await page_token(client)
    out = await client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login?logged_out=true"
    assert await conn.fetchval("SELECT count(*) FROM user_sessions") == 0
    actions = await conn.fetch("SELECT action FROM audit_log ORDER BY id")
    assert [row["action"] for row in actions] == ["console.login", "console.logout"]
    # replaying the old cookie does not bring the session back
    client.cookies.set("fb_console", cookie)
    assert (await client.get("/console", follow_redirects=False)).status_code == 303


async def test_expired_session_is_refused(client: Client, conn: asyncpg.Connection) -> None:
    await make_user(conn, email="hal@example.com")
    await log_in(client, "hal@example.com")
    assert (await client.get("/console", follow_redirects=False)).status_code == 200
    await conn.execute("UPDATE user_sessions SET expires_at = now() - interval '1 second'")
    assert (await client.get("/console", follow_redirects=False)).status_code == 303


async def test_manager_creates_and_disables_an_account(client: Client, conn: asyncpg.Connection) -> None:
    manager = await make_user(conn, email="ivy@example.com", role="manager")
    await log_in(client, "ivy@example.com")
    token = await page_token(client, "/console/users")
    form = {"csrf_token": token, "name": "Jo Agent", "email": "jo@example.com", "role": "agent"}
    weak = await client.post("/console/users", data={**form, "password": "short"})
    assert weak.status_code == 422
    assert "at least 12 characters" in weak.text
    assert 'value="jo@example.com"' in weak.text  # the form keeps what was typed
    created = await client.post("/console/users", data={**form, "password": PASSWORD}, follow_redirects=False)
    assert created.status_code == 303
    again = await client.post("/console/users", data={**form, "password": PASSWORD})
    assert again.status_code == 422
    assert "exists already" in again.text
    jo = await conn.fetchrow("SELECT id, role FROM users WHERE email = 'jo@example.com'")
    assert jo["role"] == "agent"
    audit = await conn.fetchrow("SELECT actor_id, target_id FROM audit_log WHERE action = 'user.created'")
    assert tuple(audit) == (str(manager.id), str(jo["id"]))

    manager_cookie = client.cookies.get("fb_console")
    client.cookies.clear()
    assert (await log_in(client, "jo@example.com")).status_code == 303
    jo_cookie = client.cookies.get("fb_console")
    client.cookies.set("fb_console", manager_cookie)
    disabled = await client.post(f"/console/users/{jo['id']}/disable", data={"csrf_token": token})
    assert disabled.status_code == 200
    assert "disabled" in disabled.text
    # disabling ended Jo's session at once, and Jo cannot log in again
    client.cookies.set("fb_console", jo_cookie)
    assert (await client.get("/console", follow_redirects=False)).status_code == 303
    client.cookies.clear()
    assert (await log_in(client, "jo@example.com")).status_code == 401


async def test_cli_creates_a_user_with_the_password_from_stdin(
    database_url: str, conn: asyncpg.Connection
) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "FEEDBACK_SECRET_KEY": "s" * 40}
    command = [
        sys.executable, "-m", "feedback_svc.cli", "create-user",
        "--email", "kim@example.com", "--name", "Kim Manager", "--role", "manager",
    ]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, command, input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    row = await conn.fetchrow("SELECT role, password_hash FROM users WHERE email = 'kim@example.com'")
    assert row["role"] == "manager"
    assert row["password_hash"].startswith("$argon2id$")
    short = await asyncio.to_thread(
        subprocess.run, command, input="short\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert short.returncode != 0
    assert "at least 12 characters" in short.stderr

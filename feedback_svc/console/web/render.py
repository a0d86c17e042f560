"""Render console pages with Jinja2 (autoescaped; a missing variable is an error)."""

from pathlib import Path
from typing import Any

import jinja2
import msgspec

from feedback_svc.users.schemas import Role, SessionUser

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/console/static"
STYLESHEET_URL = f"{STATIC_PATH}/console.css"


class NavItem(msgspec.Struct, frozen=True):
    label: str
    href: str
    role: Role


NAV: tuple[NavItem, ...] = (
    NavItem("Queue", "/console/queue", "agent"),
    NavItem("Escalated", "/console/queue/escalated", "manager"),
    NavItem("Alerts", "/console/alerts", "manager"),
    NavItem("Analytics", "/console/analytics", "manager"),
    NavItem("Agents", "/console/agents", "manager"),
    NavItem("Themes", "/console/themes", "manager"),
    NavItem("Messages", "/console/messages", "manager"),
    NavItem("Users", "/console/users", "manager"),
)


def make_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


class ConsolePages:
    """Console templates compiled once per app."""

    def __init__(self, *, brand_name: str, environment: jinja2.Environment | None = None) -> None:
        self._environment = environment or make_environment()
        self._brand_name = brand_name

    def render(self, template: str, *, user: SessionUser | None, current: str = "", **context: Any) -> str:
        nav = [item for item in NAV if user is not None and user.can(item.role)]
        return self._environment.get_template(template).render(
            brand_name=self._brand_name,
            stylesheet_url=STYLESHEET_URL,
            user=user,
            nav=nav,
            current=current,
            csrf_token=user.csrf_token if user is not None else "",
            **context,
        )

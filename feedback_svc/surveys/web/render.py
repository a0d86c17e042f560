"""Render the customer-facing survey pages from their views with Jinja2 (autoescaped)."""

from pathlib import Path

import jinja2

from feedback_svc.surveys.web.schemas import (
    SurveyPageView,
    ThanksPageView,
    UnavailablePageView,
    UnsubscribedPageView,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STYLESHEET_URL = "/static/survey.css"


def make_environment() -> jinja2.Environment:
    """The templates' environment: escaping always on, a missing variable is an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


class SurveyPages:
    """The four pages, their templates compiled once; build one per app and share it."""

    def __init__(
        self, environment: jinja2.Environment | None = None, *, stylesheet_url: str = STYLESHEET_URL
    ):
        environment = environment or make_environment()
        self._stylesheet_url = stylesheet_url
        self._survey = environment.get_template("survey.html")
        self._thanks = environment.get_template("thanks.html")
        # unavailable and unsubscribed are both a heading and a sentence
        self._notice = environment.get_template("notice.html")

    def render_survey_page(self, view: SurveyPageView) -> str:
        return self._survey.render(view=view, stylesheet_url=self._stylesheet_url)

    def render_thanks_page(self, view: ThanksPageView) -> str:
        return self._thanks.render(view=view, stylesheet_url=self._stylesheet_url)

    def render_unavailable_page(self, view: UnavailablePageView) -> str:
        return self._notice.render(view=view, stylesheet_url=self._stylesheet_url)

    def render_unsubscribed_page(self, view: UnsubscribedPageView) -> str:
        return self._notice.render(view=view, stylesheet_url=self._stylesheet_url)

"""Render the customer-facing survey pages from their views with Jinja2 (autoescaped)."""

import functools
from pathlib import Path

import jinja2

from feedback_svc.i18n import supported_locale, translator
from feedback_svc.i18n.numbers import format_number
from feedback_svc.surveys.web.frames import ThanksFrames
from feedback_svc.surveys.web.schemas import (
    SurveyPageView,
    ThanksPageView,
    UnavailablePageView,
    UnsubscribedPageView,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STYLESHEET_URL = "/static/survey.css"


def make_environment(locale: str = "en") -> jinja2.Environment:
    """The templates' environment in one locale: escaping always on, a missing variable is an error.

    One environment per locale, because `install_gettext_translations` binds the catalog to the
    environment's globals; `{% trans %}` in a template then speaks the page's language.
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    # newstyle: placeholders are filled (and escaped) by gettext itself, never left as %(x)s
    environment.install_gettext_translations(translator(locale), newstyle=True)
    # 5,000 / 5.000 / 5 000: numbers in a sentence as the sentence's language writes them
    environment.filters["number"] = functools.partial(format_number, locale=locale)
    return environment


class _Templates:
    """The four pages' templates in one locale, compiled once."""

    def __init__(self, environment: jinja2.Environment) -> None:
        self.survey = environment.get_template("survey.html")
        self.thanks = environment.get_template("thanks.html")
        # unavailable and unsubscribed are both a heading and a sentence
        self.notice = environment.get_template("notice.html")


class SurveyPages:
    """The four pages in every locale, compiled on first use; build one per app and share it."""

    def __init__(self, *, stylesheet_url: str = STYLESHEET_URL):
        self._stylesheet_url = stylesheet_url
        self._templates: dict[str, _Templates] = {}
        self._thanks_frames = ThanksFrames(self._render_thanks_page)

    def _for(self, lang: str) -> _Templates:
        code = supported_locale(lang)
        if code not in self._templates:
            self._templates[code] = _Templates(make_environment(code))
        return self._templates[code]

    def render_survey_page(self, view: SurveyPageView) -> str:
        return self._for(view.lang).survey.render(view=view, stylesheet_url=self._stylesheet_url)

    def render_thanks_page(self, view: ThanksPageView) -> str:
        """The page after every answer: from a frame, rendered once per language and shape."""
        return self._thanks_frames.page(view)

    def _render_thanks_page(self, view: ThanksPageView) -> str:
        return self._for(view.lang).thanks.render(view=view, stylesheet_url=self._stylesheet_url)

    def render_unavailable_page(self, view: UnavailablePageView) -> str:
        return self._for(view.lang).notice.render(view=view, stylesheet_url=self._stylesheet_url)

    def render_unsubscribed_page(self, view: UnsubscribedPageView) -> str:
        return self._for(view.lang).notice.render(view=view, stylesheet_url=self._stylesheet_url)

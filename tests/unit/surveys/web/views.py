"""Views as a route would build them, in English unless told otherwise; tests override fields."""

from typing import Any

import msgspec

from feedback_svc.surveys.texts import SCALES, resolve_texts
from feedback_svc.surveys.web.schemas import (
    Scale,
    SurveyPageView,
    ThanksPageView,
    UnavailablePageView,
    UnsubscribedPageView,
)
from feedback_svc.surveys.web.texts import page_texts, survey_page_texts

BRAND = "Acme Travel"


def survey_view(*, kind: str = "nps", locale: str = "en", **fields: Any) -> SurveyPageView:
    texts = page_texts(locale)
    resolved = resolve_texts(kind=kind, locale=locale, brand=BRAND)
    low, high = SCALES[kind]
    view = SurveyPageView(
        lang=texts.locale,
        brand_name=BRAND,
        texts=survey_page_texts(resolved, texts.survey),
        kind=kind,  # type: ignore[arg-type]
        scale=Scale(min=low, max=high),
        form_action="/s/tok",
        unsubscribe_action="/u/tok",
    )
    return msgspec.structs.replace(view, **fields)


def thanks_view(*, locale: str = "en", **fields: Any) -> ThanksPageView:
    texts = page_texts(locale)
    view = ThanksPageView(lang=texts.locale, brand_name=BRAND, texts=texts.thanks)
    return msgspec.structs.replace(view, **fields)


def unavailable_view(*, locale: str = "en") -> UnavailablePageView:
    texts = page_texts(locale)
    return UnavailablePageView(lang=texts.locale, brand_name=BRAND, texts=texts.unavailable)


def unsubscribed_view(*, locale: str = "en") -> UnsubscribedPageView:
    texts = page_texts(locale)
    return UnsubscribedPageView(lang=texts.locale, brand_name=BRAND, texts=texts.unsubscribed)

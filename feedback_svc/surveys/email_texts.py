"""The words around the question in a survey email, per locale, falling back to English."""

from feedback_svc.delivery.email.schemas import EmailTexts
from feedback_svc.surveys.texts import SurveyTexts, locale_chain

_CHROME: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "intro": "Thank you for being a customer of {brand}. We would love to hear how we did.",
        "intro_pulse": "You told us about a problem recently, and we worked on it. "
        "We would like to know how you feel about {brand} now.",
        "scale_note": "Just click a number; it takes less than a minute.",
        "footer": "You receive this email because you are a customer of {brand}.",
        "unsubscribe_label": "Unsubscribe from surveys",
        "score_label": "{score} out of {max}",
    },
    "de": {
        "greeting": "Hallo {name},",
        "greeting_anonymous": "Guten Tag,",
        "intro": "Danke, dass Sie Kunde von {brand} sind. Wir möchten gern wissen, wie zufrieden Sie sind.",
        "intro_pulse": "Sie haben uns vor Kurzem von einem Problem erzählt, und wir haben uns darum "
        "gekümmert. Wir möchten gern wissen, wie Sie {brand} heute sehen.",
        "scale_note": "Klicken Sie einfach auf eine Zahl; es dauert keine Minute.",
        "footer": "Sie erhalten diese E-Mail, weil Sie Kunde von {brand} sind.",
        "unsubscribe_label": "Von Umfragen abmelden",
        "score_label": "{score} von {max}",
    },
}


def email_texts(
    *, survey: SurveyTexts, locale: str, brand: str, name: str | None, purpose: str = "survey"
) -> EmailTexts:
    """The survey's own texts (already resolved) with the email's greeting, intro and footer;
    a pulse (`purpose`) says why we ask again so soon after the customer's last answer."""
    chrome: dict[str, str] = {}
    for code in reversed(locale_chain(locale)):
        chrome.update(_CHROME.get(code, {}))
    # plain replace, not str.format: a customer's name may contain braces
    greeting = chrome["greeting"].replace("{name}", name.strip()) if name and name.strip() else None
    return EmailTexts(
        subject=survey.subject,
        greeting=greeting or chrome["greeting_anonymous"],
        intro=chrome["intro_pulse" if purpose == "pulse" else "intro"].replace("{brand}", brand),
        question=survey.question,
        low_label=survey.low_label,
        high_label=survey.high_label,
        scale_note=chrome["scale_note"],
        footer=chrome["footer"].replace("{brand}", brand),
        unsubscribe_label=chrome["unsubscribe_label"],
        score_label=chrome["score_label"],
    )

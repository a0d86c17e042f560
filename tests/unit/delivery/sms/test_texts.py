import pytest

from feedback_svc.delivery.sms import texts
from feedback_svc.delivery.sms.gsm import gsm7_septets, sms_segments
from feedback_svc.delivery.sms.replies import (
    TAUGHT_CONTACT_WORD,
    InvalidReply,
    KeywordReply,
    ScoreReply,
    parse_comment,
    parse_reply,
)
from feedback_svc.delivery.sms.texts import SCALES, SurveyKind
from feedback_svc.i18n import SUPPORTED_LOCALES

KINDS: tuple[SurveyKind, ...] = ("nps", "csat", "ces")
BRAND = "Stadtwerke Musterstadt"  # a long-ish real-world sender name
CONTACT = "help@stadtwerke-muster.de"
DEADLINE = "Mon 24 Nov, 17:00"
LOCAL_DEADLINE = "Di., 24.11., 17:00 MEZ"  # as i18n.dates.format_moment(compact=True) writes a promise


def every_text(locale: str, *, contact: str | None = CONTACT) -> list[str]:
    return [
        *(texts.invitation(locale=locale, kind=kind, brand=BRAND) for kind in KINDS),
        *(texts.reminder(locale=locale, kind=kind, brand=BRAND) for kind in KINDS),
        *(texts.reprompt(locale=locale, kind=kind) for kind in KINDS),
        texts.ask_reason(locale=locale),
        texts.thanks(locale=locale),
        texts.thanks(locale=locale, contact_by=DEADLINE),
        texts.stop_confirmation(locale=locale, brand=BRAND),
        texts.start_confirmation(locale=locale, brand=BRAND),
        texts.help_text(locale=locale, brand=BRAND, contact=contact),
        texts.contact_confirmation(locale=locale, brand=BRAND, contact_by=LOCAL_DEADLINE),
    ]


def test_english_texts_are_one_gsm7_segment_each() -> None:
    for text in every_text("en"):
        septets = gsm7_septets(text)
        assert septets is not None, f"not GSM-7, would be sent as UCS-2: {text!r}"
        assert septets <= 160, f"{septets} septets: {text!r}"
        assert sms_segments(text) == 1


@pytest.mark.parametrize("locale", [code for code in SUPPORTED_LOCALES if code != "en"])
def test_every_language_is_gsm7_and_one_segment_without_a_help_contact(locale: str) -> None:
    # ä, ö, ü, ß, é, è, à, ñ are in the GSM-7 alphabet; ê, ó, ą and a curly quote are not
    for text in every_text(locale, contact=None):
        septets = gsm7_septets(text)
        assert septets is not None, f"not GSM-7: {text!r}"
        assert septets <= 160, f"{septets} septets: {text!r}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("locale", ["en", "de"])
def test_the_invitation_names_the_brand_the_scale_and_how_to_opt_out(locale: str, kind: SurveyKind) -> None:
    low, high = SCALES[kind]
    text = texts.invitation(locale=locale, kind=kind, brand=BRAND)
    assert text.startswith(f"{BRAND}: ")
    assert f"{low}-{high}" in text
    assert "STOP" in text
    if locale == "en":
        assert "Reply STOP to opt out" in text


def test_the_scale_in_each_invitation_is_the_one_replies_are_parsed_on() -> None:
    assert "Reply 0-10" in texts.invitation(locale="en", kind="nps", brand=BRAND)
    assert "Reply 1-5" in texts.invitation(locale="en", kind="csat", brand=BRAND)
    assert "Reply 1-7" in texts.invitation(locale="en", kind="ces", brand=BRAND)
    assert "from 1 to 5" in texts.reprompt(locale="en", kind="csat")
    assert parse_reply("5", scale=SCALES["csat"]) == ScoreReply(score=5)


@pytest.mark.parametrize(
    ("locale", "resolved"),
    [
        ("en", "en"),
        ("de", "de"),
        ("de-AT", "de"),
        ("de_CH", "de"),
        ("DE", "de"),
        ("pt-BR", "pt"),
        ("pt", "pt"),
        ("pl_PL", "pl"),
        ("sv", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_locales_fall_back_to_the_language_then_english(locale: str | None, resolved: str) -> None:
    assert texts.resolve_locale(locale) == resolved


def test_german_is_german_and_an_unknown_locale_is_english() -> None:
    assert texts.ask_reason(locale="de-AT") == texts.ask_reason(locale="de")
    assert texts.ask_reason(locale="de") != texts.ask_reason(locale="en")
    assert texts.ask_reason(locale="sv-SE") == texts.ask_reason(locale="en")
    assert "Grund" in texts.ask_reason(locale="de")


def test_thanks_promises_contact_only_when_a_deadline_is_given() -> None:
    assert "contact" not in texts.thanks(locale="en")
    assert texts.thanks(locale="en", contact_by=DEADLINE).endswith(f"We'll contact you by {DEADLINE}.")
    assert f"bis {DEADLINE}" in texts.thanks(locale="de", contact_by=DEADLINE)


@pytest.mark.parametrize("locale", ["en", "de"])
def test_keyword_answers_name_the_brand_and_the_way_back(locale: str) -> None:
    stop = texts.stop_confirmation(locale=locale, brand=BRAND)
    assert BRAND in stop
    assert "START" in stop
    start = texts.start_confirmation(locale=locale, brand=BRAND)
    assert BRAND in start
    assert "STOP" in start
    help_text = texts.help_text(locale=locale, brand=BRAND, contact=CONTACT)
    assert BRAND in help_text
    assert "STOP" in help_text
    assert CONTACT in help_text
    assert CONTACT not in texts.help_text(locale=locale, brand=BRAND)


def test_the_keywords_our_texts_teach_are_the_ones_we_recognise() -> None:
    assert parse_reply("STOP", scale=(0, 10)) == KeywordReply(keyword="stop")
    assert parse_reply("START", scale=(0, 10)) == KeywordReply(keyword="start")
    assert parse_reply("HELP", scale=(0, 10)) == KeywordReply(keyword="help")
    assert "CALL" in texts.ask_reason(locale="en")
    assert parse_reply("CALL", scale=(0, 10)) == KeywordReply(keyword="contact")
    assert "RÜCKRUF" in texts.ask_reason(locale="de")
    assert parse_reply("RÜCKRUF", scale=(0, 10)) == KeywordReply(keyword="contact")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_each_language_teaches_a_call_me_word_every_language_recognises(locale: str) -> None:
    taught = TAUGHT_CONTACT_WORD[locale].upper()
    assert taught in texts.ask_reason(locale=locale)
    assert parse_reply(taught, scale=(0, 10)) == KeywordReply(keyword="contact")
    assert parse_comment(taught.lower() + "!") == KeywordReply(keyword="contact")
    # the universal STOP works whatever the customer's language
    assert "STOP" in texts.invitation(locale=locale, kind="nps", brand=BRAND)


@pytest.mark.parametrize(
    ("reply", "keyword"),
    [("ARRÊT", "stop"), ("Baja", "stop"), ("sair", "stop"), ("Stopp", "stop"), ("rappelez-moi", "contact"),
     ("Llámame", "contact"), ("bel mij terug", "contact"), ("oddzwoń", "contact"), ("Ligue-me.", "contact")],
)  # fmt: skip
def test_local_opt_out_and_call_me_words_are_keywords(reply: str, keyword: str) -> None:
    assert parse_reply(reply, scale=(1, 5)) == KeywordReply(keyword=keyword)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "score"),
    [("cinq", 5), ("Cinco!", 5), ("sette", 7), ("vijf", 5), ("Pięć", 5), ("piec", 5), ("três", 3),
     ("tres", 3), ("dziesięć", 10), ("een", 1), ("één", 1)],
)  # fmt: skip
def test_a_score_written_as_a_word_in_each_language(reply: str, score: int) -> None:
    assert parse_reply(reply, scale=(0, 10)) == ScoreReply(score=score)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("8 sur 10", ScoreReply(score=8)), ("4 de 5", ScoreReply(score=4)), ("3 na 5", ScoreReply(score=3)),
     ("4 o 5", None), ("3 lub 4", None), ("8 sur 5", None)],
)  # fmt: skip
def test_scores_written_the_way_each_language_writes_them(reply: str, expected: ScoreReply | None) -> None:
    result = parse_reply(reply, scale=(0, 10) if "10" in reply else (1, 5))
    if expected is None:
        assert isinstance(result, InvalidReply), result
    else:
        assert result == expected


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("locale", ["en", "de"])
def test_a_reminder_asks_the_invitations_question_and_says_it_is_one(locale: str, kind: SurveyKind) -> None:
    invitation = texts.invitation(locale=locale, kind=kind, brand=BRAND)
    reminder = texts.reminder(locale=locale, kind=kind, brand=BRAND)
    assert reminder.startswith(BRAND + (", a reminder: " if locale == "en" else ", zur Erinnerung: "))
    assert reminder.endswith(invitation.removeprefix(f"{BRAND}: "))


def test_a_contact_request_is_confirmed_with_its_deadline_in_each_language() -> None:
    english = texts.contact_confirmation(locale="en", brand=BRAND, contact_by=LOCAL_DEADLINE)
    assert english == f"Thank you. Someone from {BRAND} will contact you by {LOCAL_DEADLINE}."
    german = texts.contact_confirmation(locale="de-AT", brand=BRAND, contact_by=LOCAL_DEADLINE)
    assert f"bis {LOCAL_DEADLINE}" in german
    assert texts.contact_confirmation(locale="sv", brand="{x}", contact_by="soon").startswith("Thank you.")
    french = texts.contact_confirmation(locale="fr", brand=BRAND, contact_by=LOCAL_DEADLINE)
    assert french == f"Merci. Quelqu'un de {BRAND} vous contactera d'ici le {LOCAL_DEADLINE}."


def test_a_brand_with_braces_is_not_a_template() -> None:
    assert texts.stop_confirmation(locale="en", brand="{deadline}").startswith(
        "You're unsubscribed from {deadline}"
    )


@pytest.mark.parametrize(
    ("text", "septets", "segments"),
    [
        ("", 0, 1),
        ("a" * 160, 160, 1),
        ("a" * 161, 161, 2),
        ("a" * 306, 306, 2),
        ("a" * 307, 307, 3),
        ("€" * 80, 160, 1),  # extension characters cost two septets
        ("äöüßÄÖÜé", 8, 1),
        ("“quoted”", None, 1),  # curly quotes force UCS-2
        ("’" * 70, None, 1),
        ("’" * 71, None, 2),
        ("👍" * 35, None, 1),  # an emoji is two UTF-16 units
        ("👍" * 36, None, 2),
    ],
)
def test_gsm7_septets_and_segments(text: str, septets: int | None, segments: int) -> None:
    assert gsm7_septets(text) == septets
    assert sms_segments(text) == segments

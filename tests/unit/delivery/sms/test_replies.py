import msgspec
import pytest

from feedback_svc.delivery.sms.replies import (
    CONTACT_WORDS,
    KEYWORDS,
    CommentReply,
    InvalidReply,
    KeywordReply,
    Reply,
    ScoreReply,
    parse_comment,
    parse_keyword,
    parse_reply,
)

NPS = (0, 10)
CSAT = (1, 5)
CES = (1, 7)


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("9", NPS, ScoreReply(score=9)),
        (" 9 ", NPS, ScoreReply(score=9)),
        ("\n9\n", NPS, ScoreReply(score=9)),
        ("0", NPS, ScoreReply(score=0)),
        ("10", NPS, ScoreReply(score=10)),
        ("9 great service", NPS, ScoreReply(score=9, comment="great service")),
        ("9, great service!", NPS, ScoreReply(score=9, comment="great service!")),
        ("9 - slow delivery", NPS, ScoreReply(score=9, comment="slow delivery")),
        ("9. Line one\nline two", NPS, ScoreReply(score=9, comment="Line one\nline two")),
        ("9!", NPS, ScoreReply(score=9)),
        ("10/10", NPS, ScoreReply(score=10)),
        ("9/10 thanks", NPS, ScoreReply(score=9, comment="thanks")),
        ("9 / 10", NPS, ScoreReply(score=9)),
        ("8 out of 10", NPS, ScoreReply(score=8)),
        ("8 von 10, super", NPS, ScoreReply(score=8, comment="super")),
        ("4/5", CSAT, ScoreReply(score=4)),
        ("5", CSAT, ScoreReply(score=5)),
        ("7", CES, ScoreReply(score=7)),
        ("9 😀", NPS, ScoreReply(score=9, comment="😀")),
        ("９", NPS, ScoreReply(score=9)),  # fullwidth digit from an East Asian keyboard
        ("9️⃣", NPS, ScoreReply(score=9)),  # keycap emoji
        ("🔟", NPS, ScoreReply(score=10)),
        # number words only as the whole message
        ("nine", NPS, ScoreReply(score=9)),
        ("Nine!", NPS, ScoreReply(score=9)),
        ("zero", NPS, ScoreReply(score=0)),
        ("neun", NPS, ScoreReply(score=9)),
        ("fünf", CSAT, ScoreReply(score=5)),
        ("one of your agents was rude", NPS, InvalidReply(reason="no_score")),
        ("ten", CSAT, InvalidReply(reason="out_of_range")),
        # out of range for the survey's scale
        ("11", NPS, InvalidReply(reason="out_of_range")),
        ("6", CSAT, InvalidReply(reason="out_of_range")),
        ("0", CSAT, InvalidReply(reason="out_of_range")),
        ("8", CES, InvalidReply(reason="out_of_range")),
        ("11/10", NPS, InvalidReply(reason="out_of_range")),
        ("4915112345678", NPS, InvalidReply(reason="out_of_range")),
        ("9" * 5000, NPS, InvalidReply(reason="out_of_range")),
        # answered on another scale: never rescaled
        ("8/10", CSAT, InvalidReply(reason="wrong_scale")),
        ("4/5", NPS, InvalidReply(reason="wrong_scale")),
        # not one whole number
        ("9.5", NPS, InvalidReply(reason="not_a_whole_number")),
        ("9,5", NPS, InvalidReply(reason="not_a_whole_number")),
        ("7-8", NPS, InvalidReply(reason="ambiguous")),
        ("7 or 8", NPS, InvalidReply(reason="ambiguous")),
        ("-1", NPS, InvalidReply(reason="no_score")),
        # a reason without a score
        ("great service", NPS, InvalidReply(reason="no_score")),
        ("3rd time I called", NPS, InvalidReply(reason="no_score")),
        ("I'd say 9", NPS, InvalidReply(reason="no_score")),
        ("👍", NPS, InvalidReply(reason="no_score")),
        # nothing at all
        ("", NPS, InvalidReply(reason="empty")),
        ("   \n", NPS, InvalidReply(reason="empty")),
        ("?!", NPS, InvalidReply(reason="empty")),
        ("\u200b", NPS, InvalidReply(reason="empty")),
    ],
)
def test_parse_reply(text: str, scale: tuple[int, int], expected: Reply) -> None:
    assert parse_reply(text, scale=scale) == expected


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        *[(word, "stop") for word in ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE")],
        ("OPTOUT", "stop"),
        ("stop", "stop"),
        ("Stop.", "stop"),
        ("  StOp !\n", "stop"),
        ("ＳＴＯＰ", "stop"),
        ("START", "start"),
        ("yes", "start"),
        ("Unstop", "start"),
        ("HELP", "help"),
        ("info?", "help"),
    ],
)
def test_carrier_keywords_are_recognised_in_any_case(text: str, keyword: str) -> None:
    expected = KeywordReply(keyword=keyword)  # type: ignore[arg-type]
    assert parse_reply(text, scale=NPS) == expected
    assert parse_keyword(text) == expected
    # a keyword wins over the comment, or a STOP would be stored as the reason
    assert parse_comment(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CALL", "Call me!", "call  me", "Please call me.", "contact me", "CALLBACK",
        "RÜCKRUF", "Rückruf bitte", "rueckruf", "Rufen Sie mich an", "ruf mich an!", "Kontakt",
        "Ru\u0308ckruf",  # the umlaut as u + combining diaeresis, as some keyboards send it
    ],
)  # fmt: skip
def test_contact_me_is_a_keyword_in_english_and_german(text: str) -> None:
    expected = KeywordReply(keyword="contact")
    assert parse_reply(text, scale=NPS) == expected
    assert parse_keyword(text) == expected
    # while waiting for the reason too: "call me" is a request, not the reason
    assert parse_comment(text) == expected


def test_every_locales_contact_words_are_keywords_and_clash_with_no_carrier_keyword() -> None:
    assert set(CONTACT_WORDS) >= {"en", "de"}
    for words in CONTACT_WORDS.values():
        for word in words:
            assert word == word.casefold().strip(), "stored as parse_keyword compares them"
            assert KEYWORDS[word] == "contact"
    carrier = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "start"}
    assert not carrier & {word for words in CONTACT_WORDS.values() for word in words}


def test_a_score_with_call_me_keeps_both() -> None:
    assert parse_reply("2 call me", scale=NPS) == ScoreReply(score=2, comment="call me")
    assert parse_keyword("call me") == KeywordReply(keyword="contact")


@pytest.mark.parametrize(
    "text",
    [
        "stop texting me", "please stop", "9 stop", "help me", "STOP STOP", "S.T.O.P",
        "call me maybe", "the agent did not call me", "Anruf kam nie",
    ],
)  # fmt: skip
def test_keywords_count_only_as_the_whole_message(text: str) -> None:
    assert parse_keyword(text) is None
    assert not isinstance(parse_reply(text, scale=NPS), KeywordReply)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The agent was rude", CommentReply(comment="The agent was rude")),
        ("  2 hours on hold  ", CommentReply(comment="2 hours on hold")),
        ("9", CommentReply(comment="9")),
        ("👎", CommentReply(comment="👎")),
        ("STOP", KeywordReply(keyword="stop")),
        ("", InvalidReply(reason="empty")),
        (" . ", InvalidReply(reason="empty")),
    ],
)
def test_parse_comment_takes_the_whole_message_as_the_reason(text: str, expected: object) -> None:
    assert parse_comment(text) == expected


def test_a_reason_starting_with_a_number_is_a_score_when_a_score_is_expected() -> None:
    # Why parse_comment exists: in the awaiting-reason state this must not become score 2.
    assert parse_reply("2 hours on hold", scale=NPS) == ScoreReply(score=2, comment="hours on hold")
    assert parse_comment("2 hours on hold") == CommentReply(comment="2 hours on hold")


def test_replies_encode_as_a_tagged_union() -> None:
    encoded = msgspec.json.encode(ScoreReply(score=9, comment="great"))
    assert msgspec.json.decode(encoded) == {"type": "score", "score": 9, "comment": "great"}
    assert msgspec.json.decode(encoded, type=Reply) == ScoreReply(score=9, comment="great")


def test_an_empty_scale_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_reply("5", scale=(10, 0))

"""What a customer's SMS reply means: a score (maybe with a comment), a carrier keyword, or nothing usable.

A conversation first waits for a score (`parse_reply`), then for the reason (`parse_comment`).
Keywords win in both states: a STOP must never be stored as a comment, and a "call me" is a
request to be contacted, whenever it comes.
"""

import re
import unicodedata
from typing import Literal

import msgspec

Keyword = Literal["stop", "start", "help", "contact"]
InvalidReason = Literal["empty", "no_score", "not_a_whole_number", "ambiguous", "out_of_range", "wrong_scale"]


class _Reply(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class ScoreReply(_Reply, tag="score"):
    score: int
    comment: str | None = None


class KeywordReply(_Reply, tag="keyword"):
    keyword: Keyword


class InvalidReply(_Reply, tag="invalid"):
    reason: InvalidReason


class CommentReply(_Reply, tag="comment"):
    comment: str


Reply = ScoreReply | KeywordReply | InvalidReply
CommentAnswer = CommentReply | KeywordReply | InvalidReply

# The opt-out, opt-in and help words US carriers (CTIA) and Twilio's Advanced Opt-Out honour.
# Twilio blocks our sends after a STOP whatever we do, so recognising the same words keeps our
# suppressions in step with the provider's. STOP works in every language; STOP_WORDS adds the
# word each language's customers write anyway (BAJA in Spain, SAIR in Brazil), never one that
# could be an answer.
STOP_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"),
    "de": ("stopp", "abmelden"),
    "fr": ("arret", "arrêt", "desabonner", "désabonner"),
    "es": ("baja", "parar"),
    "it": ("cancellami", "disiscrivimi"),
    "nl": ("afmelden", "uitschrijven"),
    "pt": ("sair", "parar"),
    "pl": ("wypisz", "rezygnuje", "rezygnuję"),
}
# "Contact me": the customer asks to be called back, as the survey page's checkbox does. Each
# language's SMS teaches its first word (CALL, RÜCKRUF, RAPPEL ...); the rest are what people
# write anyway. Each is a whole message (trailing punctuation and case ignored), or the whole
# comment after a score ("2 call me"). Every language's words count everywhere, as a customer
# may text in another language than their locale. The taught word is in GSM-7 and also listed
# without diacritics, as phones that cannot type them send it.
CONTACT_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "call", "call me", "call me back", "call me please", "please call", "please call me", "call back",
        "callback", "contact", "contact me", "please contact me",
    ),
    "de": (
        "rückruf", "rueckruf", "ruckruf", "rückruf bitte", "bitte rückruf", "anrufen", "bitte anrufen",
        "ruf mich an", "rufen sie mich an", "bitte rufen sie mich an", "kontakt", "kontaktieren sie mich",
    ),
    "fr": (
        "rappel", "rappelez-moi", "rappelez moi", "appelez-moi", "appelez moi", "contactez-moi",
        "contactez moi", "merci de me rappeler",
    ),
    "es": (
        "llamar", "llamada", "llámame", "llamame", "llámenme", "llamenme", "contáctenme", "contactenme",
        "contacto",
    ),
    "it": (
        "chiamami", "richiamami", "chiamatemi", "richiamatemi", "contattatemi", "contattami", "chiamata",
    ),
    "nl": ("bellen", "bel mij", "bel me", "bel mij terug", "bel me terug", "terugbellen", "neem contact op"),
    "pt": ("ligar", "ligue", "ligue-me", "liguem-me", "me liga", "me ligue", "contato", "contacto"),
    "pl": ("oddzwon", "oddzwoń", "zadzwon", "zadzwoń", "prosze o kontakt", "proszę o kontakt", "kontakt"),
}  # fmt: skip
# The word each language's SMS teaches for "call me" (texts.py says it, replies.py reads it).
TAUGHT_CONTACT_WORD = {language: words[0] for language, words in CONTACT_WORDS.items()}

KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys((word for words in STOP_WORDS.values() for word in words), "stop"),
    **dict.fromkeys(("start", "yes", "unstop"), "start"),
    **dict.fromkeys(("help", "info"), "help"),
    **dict.fromkeys((word for words in CONTACT_WORDS.values() for word in words), "contact"),
}

# Only a whole message counts as a number word: "one of your agents was rude" is a reason, not a 1.
_ENGLISH = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_GERMAN = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn")
_FRENCH = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix")
_SPANISH = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez")
_ITALIAN = ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "dieci")
_DUTCH = ("nul", "één", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien")
# Portuguese "um" (one) is left out: as a whole English message it is a hesitation, not a score.
_PORTUGUESE = ("zero", "uma", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez")
_POLISH = (
    "zero",
    "jeden",
    "dwa",
    "trzy",
    "cztery",
    "pięć",
    "sześć",
    "siedem",
    "osiem",
    "dziewięć",
    "dziesięć",
)
_LANGUAGES = (_ENGLISH, _GERMAN, _FRENCH, _SPANISH, _ITALIAN, _DUTCH, _PORTUGUESE, _POLISH)
NUMBER_WORDS: dict[str, int] = {word: value for words in _LANGUAGES for value, word in enumerate(words)}
# the same words as phones without accents send them
NUMBER_WORDS |= {
    unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode(): value
    for word, value in NUMBER_WORDS.items()
}

# \d is any Unicode decimal digit (fullwidth, Arabic-Indic ...) and int() reads them all.
_SCORE = re.compile(
    # "8/10", "8 out of 10", and the same in each supported language (von, sur, de, su, van, na)
    r"(?P<score>\d+)(?:\s*(?:/|out\s+of|von|sur|de|su|van|na)\s*(?P<out_of>\d+))?(?P<rest>.*)",
    re.DOTALL | re.IGNORECASE,
)
_DECIMAL = re.compile(r"[.,]\d")
# "4-5", "4 or 5", and the same in each supported language
_RANGE = re.compile(r"\s*(?:-|–|—|to|or|bis|oder|à|a|ou|o|tot|lub|do)\s*\d", re.IGNORECASE)
# Phones offer keycap emoji (9️⃣, 🔟) on the same keyboard as digits.
_KEYCAP = re.compile(r"(\d)\ufe0f?\u20e3")
_TRAILING = ".!?,;: \t\r\n"
_COMMENT_LEAD = " \t\r\n,.;:!?-–—"


def parse_reply(text: str, *, scale: tuple[int, int]) -> Reply:
    """Read a reply to the score question on the scale (low, high), both ends included."""
    low, high = scale
    if low > high:
        raise ValueError(f"scale {scale} is empty")
    if _is_blank(text):
        return InvalidReply(reason="empty")
    keyword = parse_keyword(text)
    if keyword is not None:
        return keyword
    word = NUMBER_WORDS.get(_bare_word(text))
    if word is not None:
        return _in_range(word, None, low=low, high=high)
    return _parse_number(_KEYCAP.sub(r"\1", text.strip()).replace("🔟", "10"), low=low, high=high)


def parse_keyword(text: str) -> KeywordReply | None:
    """The carrier keyword this whole message is (case-insensitive, trailing punctuation ignored)."""
    keyword = KEYWORDS.get(_bare_word(text))
    return None if keyword is None else KeywordReply(keyword=keyword)


def parse_comment(text: str) -> CommentAnswer:
    """Read a reply while waiting for the reason: the whole message is the comment, unless a keyword."""
    keyword = parse_keyword(text)
    if keyword is not None:
        return keyword
    if _is_blank(text):
        return InvalidReply(reason="empty")
    return CommentReply(comment=text.strip())


def _parse_number(text: str, *, low: int, high: int) -> Reply:
    match = _SCORE.fullmatch(text)
    if match is None:
        return InvalidReply(reason="no_score")
    rest = match["rest"]
    if match["out_of"] is None and _DECIMAL.match(rest):
        return InvalidReply(reason="not_a_whole_number")
    if match["out_of"] is None and _RANGE.match(rest):
        return InvalidReply(reason="ambiguous")
    if rest[:1].isalnum():
        # "3rd time I called" or "2h on hold" is a reason that starts with a number, not a score.
        return InvalidReply(reason="no_score")
    comment = rest.lstrip(_COMMENT_LEAD).rstrip()
    return _in_range(
        _to_int(match["score"]),
        None if match["out_of"] is None else _to_int(match["out_of"]),
        low=low,
        high=high,
        comment=None if _is_blank(comment) else comment,
    )


def _in_range(score: int, out_of: int | None, *, low: int, high: int, comment: str | None = None) -> Reply:
    # "8/10" on a 1-5 scale: the customer answered another question; rescaling would invent a score.
    if out_of is not None and out_of != high:
        return InvalidReply(reason="wrong_scale")
    if not low <= score <= high:
        return InvalidReply(reason="out_of_range")
    return ScoreReply(score=score, comment=comment)


def _to_int(digits: str) -> int:
    # A phone number pasted as a reply is out of range; int() of thousands of digits is refused.
    return int(digits) if len(digits) <= 4 else 10**4


def _bare_word(text: str) -> str:
    # NFKC folds fullwidth letters (ＳＴＯＰ) so they compare like ASCII; runs of spaces are one.
    return " ".join(unicodedata.normalize("NFKC", text).rstrip(_TRAILING).casefold().split())


def _is_blank(text: str) -> bool:
    """Nothing but whitespace, punctuation, marks and invisible characters."""
    return all(unicodedata.category(char)[0] in "PZCM" for char in text)

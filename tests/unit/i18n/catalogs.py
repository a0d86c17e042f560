"""Reading the committed catalogs in tests."""

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)[sd]")
# Words a translation may keep from the English: carrier keywords, names, and words that are
# the same in the other language ("Error" in Spanish, "optional" in German).
SHARED_WORDS = {"STOP", "START", "HELP", "SMS", "Error:", "Confirmar", "Chat", "chat"}


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def msgid_texts(msgid: str | tuple[str, ...]) -> tuple[str, ...]:
    return msgid if isinstance(msgid, tuple) else (msgid,)


def english_fragments(path: Path) -> set[str]:
    """The English texts of a catalog, split at placeholders, that would give away a missing
    translation: two words or more, or one long word, unless the translation says the same."""
    fragments: set[str] = set()
    for message in read_catalog(path):
        if not message.id:
            continue
        translations = " ".join(msgid_texts(message.string))
        for text in msgid_texts(message.id):
            for raw in PLACEHOLDER.split(text):
                piece = raw.strip(" .,:;?!()=-")
                if piece in SHARED_WORDS or piece in translations:
                    continue
                if len(piece.split()) >= 2 or len(piece) >= 6:
                    fragments.add(piece)
    return fragments

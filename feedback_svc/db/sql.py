"""Named SQL blocks kept in `.sql` files, parsed once.

A file holds blocks that start with `-- name: verb_noun`; the comment lines
right after the name say why the query exists. Each domain wraps its blocks in
typed functions, so no caller passes query names around.
"""

import re
from collections.abc import Mapping
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class QueryFileError(ValueError):
    """A .sql file is malformed: a duplicate or empty block."""


def parse_queries(text: str, *, source: str = "<string>") -> dict[str, str]:
    """Split `text` into {name: sql}; text before the first name is ignored."""
    queries: dict[str, str] = {}
    matches = list(_NAME.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        name = match.group(1)
        if name in queries:
            raise QueryFileError(f"{source}: query {name!r} is defined twice")
        if not _strip_comments(body):
            raise QueryFileError(f"{source}: query {name!r} has no SQL")
        queries[name] = body
    return queries


def load_queries(path: Path) -> Mapping[str, str]:
    """Read and parse one .sql file (call at import time of the wrapper module)."""
    return parse_queries(path.read_text(encoding="utf-8"), source=str(path))


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()

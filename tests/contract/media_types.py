"""Bodies for the media types schemathesis cannot make by itself: bulk-import files.

Registered on import. The files mix rows the service takes with rows it refuses (odd cells,
quotes, line breaks inside cells, wrong types), so the import routes see both kinds.
"""

import json

import schemathesis
from hypothesis import strategies as st

COLUMNS = ["external_id", "email", "name", "value", "kind", "occurred_at", "customer_external_id", "plan"]
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["crm-1", "a@example.com", "2026-01-01", "2026-01-01T10:00:00+14:00", "purchase", "1e999"]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


def _csv_line(values: list[str]) -> str:
    return ",".join(
        '"' + value.replace('"', '""') + '"' if set(value) & set(',"\n\r') else value for value in values
    )


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=5, unique=True))
    rows = draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header)), max_size=4))
    return ("\n".join(_csv_line(row) for row in [header, *rows]) + "\n").encode("utf-8", "surrogatepass")


json_values = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=12), cells)
ndjson_files = st.lists(st.dictionaries(st.sampled_from(COLUMNS), json_values, max_size=5), max_size=4).map(
    lambda rows: ("\n".join(json.dumps(row) for row in rows) + "\n").encode()
)

schemathesis.openapi.media_type("text/csv", csv_files())
schemathesis.openapi.media_type("application/x-ndjson", ndjson_files)
schemathesis.openapi.media_type("application/jsonl", ndjson_files)

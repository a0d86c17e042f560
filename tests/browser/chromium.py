"""Which Chromium the browser tests drive: FEEDBACK_CHROMIUM, else `chromium` on PATH (Debian's package)."""

import os
import shutil
from pathlib import Path

NAMES = ("chromium", "chromium-browser")
MISSING = (
    "browser tests not run: no Chromium found (install it with `apt-get install chromium`, "
    "or set FEEDBACK_CHROMIUM=/path/to/chromium)"
)


def find_chromium() -> Path | None:
    chosen = os.environ.get("FEEDBACK_CHROMIUM")
    if chosen:
        return Path(chosen) if Path(chosen).is_file() else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None

"""Two glibc malloc arenas for a serving process, as MALLOC_ARENA_MAX=2 would give.

glibc gives a thread that allocates while another holds an arena an arena of its own, up to
eight per core, and each keeps the pages its busiest moment touched. The serving process
scores in threads (the batcher's lanes, model loads through asyncio.to_thread), a dozen under
bench_scores. On 2 cores two arenas save 2-4 MiB there (plain install: 206-207 MiB against
208-210 with glibc's sixteen, runs alternated); more cores allow more arenas, which keep more.
Two is what threaded Python and Ruby services commonly run with; the threads here hold the GIL
for most of their work, so they rarely wait for an arena. Set at run time with mallopt, so
`serve` with one process (where glibc has read its environment already) and each worker of
several get the same; an operator's own MALLOC_ARENA_MAX, read by glibc at start, stays.
"""

import ctypes
import os

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter, glibc's malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """For the whole process, from now on; False where it is not glibc or the environment says."""
    if "MALLOC_ARENA_MAX" in os.environ or not _glibc():
        return False
    return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas))


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # not a name this platform knows
        return False

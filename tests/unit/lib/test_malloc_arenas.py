"""The serving process's malloc arena limit, counted by glibc itself (malloc_info)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
    pytest.skip("malloc arenas are glibc's", allow_module_level=True)

# seven threads hold a block each while glibc reports its arenas to a file
COUNT_ARENAS = textwrap.dedent(
    """
    import ctypes, sys, threading
    {setup}
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    holding = threading.Barrier(8)

    def hold():
        block = libc.malloc(1 << 16)
        holding.wait()
        holding.wait()
        libc.free(block)

    threads = [threading.Thread(target=hold) for _ in range(7)]
    for thread in threads:
        thread.start()
    holding.wait()
    report = libc.fopen(sys.argv[1].encode(), b"w")
    libc.malloc_info(0, report)
    libc.fclose(report)
    holding.wait()
    for thread in threads:
        thread.join()
    """
)


def _arenas(tmp_path: Path, setup: str, **env: str) -> int:
    report = tmp_path / "malloc_info.xml"
    environment = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    subprocess.run(
        [sys.executable, "-c", COUNT_ARENAS.format(setup=setup), str(report)],
        env={**environment, **env},
        check=True,
        timeout=120,
    )
    return report.read_text().count("<heap nr=")


def test_threads_share_two_arenas_once_limited(tmp_path: Path) -> None:
    limited = "from feedback_svc.lib.malloc_arenas import limit_malloc_arenas; assert limit_malloc_arenas()"
    assert _arenas(tmp_path, limited) == 2
    # the same threads without the limit: glibc gives them more, so the count above means something
    assert _arenas(tmp_path, "") > 2


def test_an_operators_malloc_arena_max_stays(tmp_path: Path) -> None:
    kept = "from feedback_svc.lib.malloc_arenas import limit_malloc_arenas; assert not limit_malloc_arenas()"
    assert _arenas(tmp_path, kept, MALLOC_ARENA_MAX="3") == 3

"""A small closed-loop HTTP/1.1 load generator on loopback, and a service runner.

Closed loop: `concurrency` keep-alive connections each send a request, wait for
the whole response, and send the next, for a fixed time. The same generator
measures every endpoint in one run, so the ratios between endpoints hold even
on a shared, noisy machine where absolute numbers do not.
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RequestFactory = Callable[[int], bytes]


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def line(self) -> str:
        return (
            f"{self.name:34} {self.rate:9.0f} req/s   p50 {self.percentile(0.5):7.2f} ms   "
            f"p99 {self.percentile(0.99):7.2f} ms   statuses {dict(sorted(self.statuses.items()))}"
        )


def http_request(
    method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _worker(
    port: int, make: RequestFactory, stop_at: float, result: Result, counter: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            counter[0] += 1
            payload = make(counter[0])
            started = time.perf_counter()
            writer.write(payload)
            status = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _measure(name: str, port: int, make: RequestFactory, seconds: float, concurrency: int) -> Result:
    result = Result(name=name, seconds=seconds)
    counter = [0]
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(*(_worker(port, make, stop_at, result, counter) for _ in range(concurrency)))
    return result


def measure(name: str, port: int, make: RequestFactory, *, seconds: float, concurrency: int) -> Result:
    try:
        import uvloop

        return uvloop.run(_measure(name, port, make, seconds, concurrency))
    except ImportError:
        return asyncio.run(_measure(name, port, make, seconds, concurrency))


def interleaved(
    scenarios: dict[str, RequestFactory], port: int, *, rounds: int, seconds: float, concurrency: int
) -> dict[str, Result]:
    """Alternate the scenarios round by round so drift in machine load hits all of them alike."""
    totals: dict[str, Result] = {name: Result(name=name, seconds=0.0) for name in scenarios}
    for _ in range(rounds):
        for name, make in scenarios.items():
            part = measure(name, port, make, seconds=seconds, concurrency=concurrency)
            total = totals[name]
            total.seconds += part.seconds
            total.latencies.extend(part.latencies)
            for status, count in part.statuses.items():
                total.statuses[status] = total.statuses.get(status, 0) + count
    return totals


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_service(*, extra_env: dict[str, str] | None = None) -> Iterator[tuple[int, str, dict[str, str]]]:
    """Start `feedback-svc serve` (embedded PostgreSQL unless DATABASE_URL is set).

    Yields (port, admin API key, environment)."""
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="feedback-bench-")
    env = {
        **os.environ,
        "FEEDBACK_PORT": str(port),
        "FEEDBACK_DATA_DIR": data_dir,
        "FEEDBACK_LOG_LEVEL": "WARNING",
        # a benchmark measures throughput; one client at full speed is exactly what limits stop
        "FEEDBACK_RATE_LIMIT_API_PER_MINUTE": "0",
        "FEEDBACK_RATE_LIMIT_PUBLIC_PER_MINUTE": "0",
        **(extra_env or {}),
    }
    if env.get("DATABASE_URL") and not env.get("FEEDBACK_SECRET_KEY"):
        env["FEEDBACK_SECRET_KEY"] = "benchmark-" + "x" * 32
    log = Path(data_dir) / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedback_svc.cli", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"service did not start:\n{log.read_text()}")
            time.sleep(0.3)
        yield port, create_key(env, "admin"), env
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        # the embedded database and the log: a benchmark leaves nothing behind
        shutil.rmtree(data_dir, ignore_errors=True)


def create_key(env: dict[str, str], scope: str) -> str:
    """A new API key with one scope, made by the CLI against the benchmark's database."""
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "feedback_svc.cli",
            "create-key",
            "--name",
            f"bench-{scope}",
            "--scope",
            scope,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def summary(results: dict[str, Result], baseline: str) -> list[str]:
    base = results[baseline].rate
    return [
        f"{name:34} {result.rate / base:6.2f} x {baseline}"
        for name, result in results.items()
        if name != baseline
    ]


def json_body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

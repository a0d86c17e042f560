"""Every hot request of feedback-svc against a bare Litestar no-op app, in one run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_request_path \
        python -m benchmarks.bench_request_path [--seconds 5] [--rounds 3] [--concurrency 16]

Two servers run side by side on the same cores, each with the same number of uvicorn workers
(`--workers`, 1 by default; FEEDBACK_WORKERS for feedback-svc), started the same way:
`benchmarks/bare_app.py` (one route returning `{"status": "ok"}`, nothing else) and
`feedback-svc serve`. Round by round the same load generator measures the bare app, then
feedback-svc's liveness probe, a web-form answer (`POST /s/{token}`, each on a fresh invitation
prepared before its round), an API answer (`POST /v1/responses` with a new Idempotency-Key and a
`crm` key), a new customer (`POST /v1/customers`) and a one-customer score (`POST /v1/scores`).
Each is printed as a ratio to the bare app: what feedback-svc's request path costs on top of
the work itself. Every 2xx is committed (synchronous_commit on) before its reply.

With DATABASE_URL set, a third app runs beside them, `benchmarks/plain_write_app.py`: the API
answer's body written by one INSERT per request, nothing else (no key, no idempotency, no event,
no grouping). It is the yardstick for the answers: what one durable write per request costs
with the least code around it, measured in the same rounds.

With `--profile DIR`, py-spy records the service while each scenario runs (one SVG flame graph
per scenario; py-spy must be installed, and may need ptrace permission).

The 1,000-customer score latency and the serving RSS are measured by bench_scores.py (it needs
a trained model on simulated histories, which takes minutes to prepare).
"""

import argparse
import asyncio
import itertools
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_answers import FormStock, _answers_per_second
from benchmarks.loadgen import (
    RequestFactory,
    Result,
    create_key,
    free_port,
    http_request,
    json_body,
    measure,
    running_service,
)

BARE = "bare Litestar GET (no-op)"
LIVE = "GET /health/live"
FORM = "POST /s/{token} (web form)"
API = "POST /v1/responses"
CUSTOMERS = "POST /v1/customers (create)"
SCORE = "POST /v1/scores (1 customer)"
PLAIN = "plain INSERT per request"


def _server_command(server: str, target: str, port: int, workers: int, *, factory: bool = False) -> list[str]:
    """The command serving the ASGI app `target` on `port` with uvicorn or granian."""
    if server == "granian":
        granian = str(Path(sys.executable).with_name("granian"))
        return [
            granian, "--interface", "asgi", "--port", str(port), "--workers", str(workers),
            "--no-ws", "--log-level", "warning", *(["--factory"] if factory else []), target,
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", target, "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning", *(["--factory"] if factory else []),
    ]  # fmt: skip


def _start(command: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(command)} did not start") from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def _serve_pid(env_port: int) -> int | None:
    """The `feedback-svc serve` process listening on env_port (a child of ours)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = int(re.search(r"PPid:\s+(\d+)", status.read_text()).group(1))  # type: ignore[union-attr]
            cmdline = (status.parent / "cmdline").read_bytes()
        except (OSError, AttributeError):
            continue
        if ppid == os.getpid() and b"serve" in cmdline:
            return int(status.parent.name)
    return None


def _start_profile(
    pid: int | None, folder: Path | None, name: str, seconds: float
) -> subprocess.Popen[bytes] | None:
    """py-spy recording `pid` for `seconds` into folder/<scenario>.svg, or None."""
    if folder is None or pid is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--subprocesses",  # with --workers, the requests are served by the pid's children
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "250",
            "--nonblocking",
            "--output",
            str(folder / f"{slug}.svg"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _process_stats() -> dict[int, tuple[str, int, float, float]]:
    """pid -> (command name, parent, its own CPU seconds, its reaped children's CPU seconds)."""
    stats: dict[int, tuple[str, int, float, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = path.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        fields = rest.split()
        stats[int(path.parent.name)] = (
            name,
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / tick,
            (int(fields[13]) + int(fields[14])) / tick,
        )
    return stats


def _postgres_cpu_seconds(stats: dict[int, tuple[str, int, float, float]]) -> float:
    """CPU time of every PostgreSQL server on this machine (the benchmark's database among them).

    Backends come and go with connections: one that exited while a scenario ran is counted in its
    postmaster's reaped children's time.
    """
    postgres = {pid: stat for pid, stat in stats.items() if stat[0] == "postgres"}
    return sum(
        own + (reaped if parent not in postgres else 0.0) for _, parent, own, reaped in postgres.values()
    )


def _machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core counted."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    total = sum(fields[:8])  # guest time is counted in user already
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


@dataclass
class CpuUse:
    """CPU seconds spent while a scenario ran: by the server, by PostgreSQL, by the whole machine."""

    server: float = 0.0
    postgres: float = 0.0
    busy: float = 0.0  # every core's non-idle time, the load generator's included
    total: float = 0.0  # every core's time

    @classmethod
    def now(cls, pid: int | None) -> "CpuUse":
        busy, total = _machine_busy_seconds()
        stats = _process_stats()  # one reading of /proc for the server and PostgreSQL alike
        return cls(_cpu_seconds(pid, stats), _postgres_cpu_seconds(stats), busy, total)

    def add(self, before: "CpuUse", after: "CpuUse") -> None:
        self.server += after.server - before.server
        self.postgres += after.postgres - before.postgres
        self.busy += after.busy - before.busy
        self.total += after.total - before.total


def _cpu_seconds(pid: int | None, stats: dict[int, tuple[str, int, float, float]]) -> float:
    """CPU time of `pid` and every process below it (uvicorn's workers are its children)."""
    if pid is None:
        return float("nan")
    tree, grown = {pid}, True
    while grown:
        below = {child for child, (_, parent, _, _) in stats.items() if parent in tree} - tree
        tree |= below
        grown = bool(below)
    return sum(stats[member][2] for member in tree if member in stats)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--customers", type=int, default=200, help="customers the score requests pick from")
    parser.add_argument("--profile", type=Path, help="write a py-spy flame graph per scenario here")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes of each app (FEEDBACK_WORKERS for feedback-svc)",
    )
    parser.add_argument(
        "--server",
        choices=("uvicorn", "granian"),
        default="uvicorn",
        help="what serves both apps: `feedback-svc serve` runs uvicorn; granian serves "
        "feedback_svc.asgi:app_from_env (needs DATABASE_URL)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only scenarios whose name holds this text (repeatable)",
    )
    args = parser.parse_args()

    bare_port = free_port()
    bare = _start(_server_command(args.server, "benchmarks.bare_app:app", bare_port, args.workers), bare_port)
    service_env = {"FEEDBACK_RUN_WORKERS": "false", "FEEDBACK_WORKERS": str(args.workers)}
    plain: subprocess.Popen[bytes] | None = None
    try:
        with running_service(extra_env=service_env) as (port, key, env):
            if os.environ.get("DATABASE_URL"):
                plain_port = free_port()
                plain_app = "benchmarks.plain_write_app:app"
                command = _server_command(args.server, plain_app, plain_port, args.workers)
                plain = _start(command, plain_port, env)
                references = {BARE: (bare_port, bare.pid), PLAIN: (plain_port, plain.pid)}
            else:
                print("# no DATABASE_URL: the plain INSERT reference needs a database it can reach")
                references = {BARE: (bare_port, bare.pid)}
            if args.server == "uvicorn":
                results, cpu = _run(args, references, port, _serve_pid(port), key, env)
            else:
                # `serve` migrated the database; granian serves the same app beside it
                other = free_port()
                command = _server_command(
                    args.server, "feedback_svc.asgi:app_from_env", other, args.workers, factory=True
                )
                served = _start(command, other, {**env, "FEEDBACK_PORT": str(other)})
                try:
                    results, cpu = _run(args, references, other, served.pid, key, env)
                finally:
                    _stop(served)
    finally:
        _stop(bare)
        if plain is not None:
            _stop(plain)
            asyncio.run(_drop_plain_table())
    _report(args, results, cpu)


async def _drop_plain_table() -> None:
    import asyncpg

    from benchmarks.plain_write_app import TABLE

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    finally:
        await conn.close()


def _run(
    args: argparse.Namespace,
    references: dict[str, tuple[int, int]],
    port: int,
    serve_pid: int | None,
    key: str,
    env: dict[str, str],
) -> tuple[dict[str, Result], dict[str, float]]:
    admin = {"Authorization": f"Bearer {key}"}
    crm = {"Authorization": f"Bearer {create_key(env, 'crm')}", "Content-Type": "application/json"}
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    live = http_request("GET", "/health/live")
    customer_ids = asyncio.run(_customers(port, crm, args.customers + 1))
    # every API answer goes to one customer of its own: tens of thousands of answers on a customer
    # the scores pick from would make its feature query, not the request path, what is measured
    answering = customer_ids.pop()
    rng = random.Random(0)
    stock = FormStock(port, admin, args.concurrency, expected_rate=2000.0)
    serial = itertools.count()
    run = f"{os.getpid()}-{time.time_ns()}"

    def answer_form(n: int) -> bytes:
        path = stock.next_path()
        body = f"score={n % 11}&comment=Quick+and+friendly".encode()
        return http_request("POST", path, body=body, headers=form_headers)

    def answer_api(n: int) -> bytes:
        body = json_body(
            {"customer_id": answering, "survey": "nps", "score": n % 11, "comment": "In-app answer"}
        )
        headers = {**crm, "Idempotency-Key": f"bench-{run}-{next(serial)}"}
        return http_request("POST", "/v1/responses", body=body, headers=headers)

    def answer_plain(n: int) -> bytes:
        body = json_body(
            {"customer_id": answering, "survey": "nps", "score": n % 11, "comment": "In-app answer"}
        )
        return http_request("POST", "/answers", body=body, headers={"Content-Type": "application/json"})

    def create_customer(_: int) -> bytes:
        n = next(serial)
        body = json_body(
            {
                "external_id": f"bench-{run}-{n}",
                "email": f"c{n}@example.com",
                "value": n % 1000,
                "segment": "smb",
                "attributes": {"plan": "pro", "seats": n % 50},
            }
        )
        return http_request("POST", "/v1/customers", body=body, headers=crm)

    def score_one(_: int) -> bytes:
        body = json_body({"items": [{"customer_id": rng.choice(customer_ids)}]})
        return http_request("POST", "/v1/scores", body=body, headers=crm)

    # (port, request factory, the process that serves it)
    bare_port, bare_pid = references[BARE]
    scenarios: dict[str, tuple[int, RequestFactory, int | None]] = {
        BARE: (bare_port, lambda _: live, bare_pid),
        LIVE: (port, lambda _: live, None),
        FORM: (port, answer_form, None),
        API: (port, answer_api, None),
        CUSTOMERS: (port, create_customer, None),
        SCORE: (port, score_one, None),
    }
    if PLAIN in references:
        plain_port, plain_pid = references[PLAIN]
        scenarios[PLAIN] = (plain_port, answer_plain, plain_pid)
    if args.only:  # the bare app always runs: every ratio is against it
        scenarios = {
            name: scenario
            for name, scenario in scenarios.items()
            if name == BARE or any(part in name for part in args.only)
        }
    results = {name: Result(name=name, seconds=0.0) for name in scenarios}
    cpu = {name: CpuUse() for name in scenarios}
    for round_number in range(args.rounds):
        for name, (target, make, own_pid) in scenarios.items():
            pid = own_pid or serve_pid
            while True:
                if name == FORM:
                    stock.fill(args.seconds)
                profile = args.profile if round_number == 0 else None
                before = CpuUse.now(pid)
                profiler = _start_profile(pid, profile, name, args.seconds)
                part = measure(name, target, make, seconds=args.seconds, concurrency=args.concurrency)
                if profiler is not None:
                    profiler.wait(timeout=60)
                use = CpuUse.now(pid)
                if name != FORM or stock.measured(part):
                    break
            cpu[name].add(before, use)
            total = results[name]
            total.seconds += part.seconds
            total.latencies.extend(part.latencies)
            for status, count in part.statuses.items():
                total.statuses[status] = total.statuses.get(status, 0) + count
    return results, cpu


async def _customers(port: int, headers: dict[str, str], count: int) -> list[str]:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        ids = []
        for n in range(count):
            created = await client.post(
                "/v1/customers", json={"external_id": f"score-{os.getpid()}-{n}"}, headers=headers
            )
            created.raise_for_status()
            ids.append(str(created.json()["id"]))
        # the model loads on the first score (once per process): not part of any request measured
        warm = await client.post("/v1/scores", json={"items": [{"customer_id": ids[0]}]}, headers=headers)
        warm.raise_for_status()
        return ids


def _report(args: argparse.Namespace, results: dict[str, Result], cpu: dict[str, CpuUse]) -> None:
    print(
        f"# {platform.node()} {os.cpu_count()} cpus, concurrency {args.concurrency}, "
        f"{args.rounds} rounds x {args.seconds:g}s each, database: "
        f"{'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded PostgreSQL'}, "
        f"{args.workers} {args.server} worker(s) per server, outbox not drained"
    )
    base = _answers_per_second(results[BARE])
    # CPU per 2xx: the server's processes, PostgreSQL's, and the machine's idle share while it ran
    print(
        f"{'scenario':34} {'2xx/s':>9}   {'p50':>8}   {'p99':>8}   {'ratio':>5}   "
        f"{'server CPU':>10}   {'PG CPU':>7}   {'idle':>4}"
    )
    for name, result in results.items():
        done = sum(count for status, count in result.statuses.items() if 200 <= status < 300)
        rate = _answers_per_second(result)
        use = cpu[name]
        server = use.server / done * 1e6 if done else float("nan")
        postgres = use.postgres / done * 1e6 if done else float("nan")
        idle = 1 - use.busy / use.total if use.total else float("nan")
        print(
            f"{name:34} {rate:9.0f}   {result.percentile(0.5):6.2f}ms   {result.percentile(0.99):6.2f}ms   "
            f"{rate / base:5.2f}   {server:7.0f} µs   {postgres:4.0f} µs   {idle:4.0%}   "
            f"{dict(sorted(result.statuses.items()))}"
        )


if __name__ == "__main__":
    main()

"""POST /v1/scores against GET /health/live on the same server, in one run.

    python -m benchmarks.bench_scores [--customers 1200] [--seconds 5] [--rounds 3] [--concurrency 16]

Uses the embedded PostgreSQL unless DATABASE_URL is set. `feedback-svc demo` fills
the database first (simulated customers with a history, a trained and activated
model), so every score reads real feature rows and is stored, like in production.
Prints: single-customer scoring req/s as a ratio to /health/live (16 clients, so
concurrent requests share batches, see feedback_svc/scoring/batcher.py); the same
request from one client alone, which never shares; p50/p99 of a 1,000-customer
batch (one client, one request at a time) and the serving process's CPU time for each;
the serving process's resident memory with the model loaded.
"""

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import urllib.request
from pathlib import Path

from benchmarks.bench_request_path import _cpu_seconds, _serve_pid
from benchmarks.loadgen import (
    create_key,
    http_request,
    interleaved,
    json_body,
    measure,
    running_service,
    summary,
)


def _customer_ids(port: int, key: str, count: int, seed: int) -> list[str]:
    """Our ids for the demo's customers (`sim-<seed>-<n>`): an upsert of the external id answers with it."""
    ids = []
    for n in range(count):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/customers",
            data=json_body({"external_id": f"sim-{seed}-{n}"}),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            ids.append(json.load(response)["id"])
    return ids


def _serving_rss_mib() -> float:
    """VmRSS of the `feedback-svc serve` process this benchmark started (a child of ours)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields["PPid"]) == os.getpid() and b"serve" in cmdline:
            return int(fields["VmRSS"].split()[0]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1200, help="simulated by `feedback-svc demo`")
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    seed = 1

    with running_service() as (port, key, env):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "feedback_svc.cli",
                "demo",
                "--customers",
                str(args.customers),
                "--seed",
                str(seed),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        ids = _customer_ids(port, key, min(args.customers, 1000), seed)
        # the CRM's scope, as in production (an admin key's calls are also written to the audit log)
        crm = create_key(env, "crm")
        auth = {"Authorization": f"Bearer {crm}", "Content-Type": "application/json"}
        live = http_request("GET", "/health/live")
        rng = random.Random(0)

        def score_one(_: int) -> bytes:
            body = json_body({"items": [{"customer_id": rng.choice(ids)}]})
            return http_request("POST", "/v1/scores", body=body, headers=auth)

        results = interleaved(
            {"GET /health/live": lambda _: live, "POST /v1/scores (1 customer)": score_one},
            port,
            rounds=args.rounds,
            seconds=args.seconds,
            concurrency=args.concurrency,
        )
        # a lone client cannot share batches with anyone: the latency of one score on its own
        alone = measure(
            "POST /v1/scores (1 customer, 1 client)", port, score_one, seconds=args.seconds, concurrency=1
        )
        batch = http_request(
            "POST", "/v1/scores", body=json_body({"items": [{"customer_id": i} for i in ids]}), headers=auth
        )
        serve_pid = _serve_pid(port)
        cpu_before = _cpu_seconds(serve_pid)
        batches = measure(
            f"POST /v1/scores ({len(ids)} customers)",
            port,
            lambda _: batch,
            seconds=args.seconds * args.rounds,
            concurrency=1,
        )
        # the serving process's own CPU (its background workers included), not PostgreSQL's
        batch_cpu_ms = (_cpu_seconds(serve_pid) - cpu_before) / max(1, len(batches.latencies)) * 1000
        rss = _serving_rss_mib()
    print(
        f"# {platform.node()} {os.cpu_count()} cpus, concurrency {args.concurrency}, "
        f"{args.rounds} rounds x {args.seconds:g}s each, {args.customers} simulated customers, database: "
        f"{'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded PostgreSQL'}"
    )
    for result in (*results.values(), alone, batches):
        print(result.line())
    for line in summary(results, "GET /health/live"):
        print(line)
    print(f"{'serving process CPU per ' + str(len(ids)) + ' scores':34} {batch_cpu_ms:6.1f} ms")
    print(f"{'serving process RSS, model loaded':34} {rss:6.0f} MiB")


if __name__ == "__main__":
    main()

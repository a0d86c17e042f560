"""Imports over HTTP on a running server, and what they leave of the answers path meanwhile.

    python -m benchmarks.bench_import_http [--customers 50000] [--events 300000] [--seconds 8] [--rounds 2]

One `feedback-svc serve` process (its outbox worker runs the imports) on a fresh database:
1. customers, then events, each uploaded with POST /v1/imports/... and followed until done:
   rows/s from the upload's start to the import's end;
2. answers (POST /v1/responses, in-app, by the CRM's id; 16 connections) for `--seconds` on
   their own, then for as long again while an events import runs (three times `--events`, so it
   outlasts the measurement), alternating round by round: answers/s and latency in both.

Uses the embedded PostgreSQL unless DATABASE_URL is set (an admin URL: a fresh database is made
on that server and dropped after).
"""

import argparse
import asyncio
import itertools
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.bench_imports import drop_database, fresh_database, server, write_customers, write_events
from benchmarks.loadgen import Result, create_key, http_request, json_body, measure, running_service


def upload(base: str, key: str, kind: str, path: Path) -> dict[str, object]:
    """Upload a file and follow the import until it is done; the finished import."""

    def chunks() -> object:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                yield chunk

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
    with httpx.Client(base_url=base, timeout=600) as http:
        sent = http.post(f"/v1/imports/{kind}", content=chunks(), headers=headers)
        sent.raise_for_status()
        while True:
            done = http.get(sent.headers["location"], headers=headers).json()
            if done["status"] in ("succeeded", "failed"):
                return done
            time.sleep(0.2)


def timed_upload(base: str, key: str, kind: str, path: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = upload(base, key, kind, path)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    with server() as admin_url, tempfile.TemporaryDirectory(prefix="feedback-bench-http-") as files:
        folder = Path(files)
        write_customers(folder / "customers.csv", args.customers, seed=1)
        write_events(folder / "events.csv", args.events, args.customers, seed=2)
        # new events (their own ids) for each round, enough to outlast the measurement beside them
        for k in range(args.rounds):
            write_events(
                folder / f"more-events-{k}.csv", 3 * args.events, args.customers, seed=3 + k, ids=f"r{k}-"
            )
        url = asyncio.run(fresh_database(admin_url))
        try:
            with running_service(extra_env={"DATABASE_URL": url}) as (port, _, env):
                base = f"http://127.0.0.1:{port}"
                crm = create_key(env, "crm")
                customers_s, customers = timed_upload(base, crm, "customers", folder / "customers.csv")
                events_s, events = timed_upload(base, crm, "events", folder / "events.csv")

                auth = {"Authorization": f"Bearer {crm}", "Content-Type": "application/json"}
                numbers = itertools.count()

                def answer(_: int) -> bytes:
                    n = next(numbers)
                    body = json_body(
                        {
                            "customer_external_id": f"c{n % args.customers}",
                            "survey": "csat",
                            "score": 1 + n % 5,
                        }
                    )
                    return http_request("POST", "/v1/responses", body=body, headers=auth)

                alone, during = Result("answers alone", 0.0), Result("answers during an events import", 0.0)
                imports: list[tuple[float, dict[str, object], bool]] = []
                for k in range(args.rounds):
                    add(
                        alone,
                        measure(alone.name, port, answer, seconds=args.seconds, concurrency=args.concurrency),
                    )
                    running: dict[str, tuple[float, dict[str, object]]] = {}

                    def import_more(k: int = k, running: dict = running) -> None:
                        running["import"] = timed_upload(base, crm, "events", folder / f"more-events-{k}.csv")

                    worker = threading.Thread(target=import_more)
                    worker.start()
                    time.sleep(1.0)  # the upload is arriving, the worker validating and applying
                    add(
                        during,
                        measure(
                            during.name, port, answer, seconds=args.seconds, concurrency=args.concurrency
                        ),
                    )
                    still_running = worker.is_alive()
                    worker.join()
                    imports.append((*running["import"], still_running))
        finally:
            asyncio.run(drop_database(admin_url, url))

    print(
        f"# {platform.node()} {os.cpu_count()} cpus, one server process (its worker runs the imports), "
        f"database: {'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded PostgreSQL'}"
    )
    for name, seconds, done in (("customers", customers_s, customers), ("events", events_s, events)):
        print(
            f"HTTP import, {name:10} {done['rows_total']:>9,} rows in {seconds:6.2f} s: "
            f"{int(done['rows_total']) / seconds:9,.0f} rows/s "
            f"({done['status']}, {done['rows_invalid']} refused)"
        )
    print(alone.line())
    print(during.line())
    print(f"answers during an import: {during.rate / alone.rate:.2f} x answers alone")
    for seconds, done, outlasted in imports:
        print(
            f"(an import beside them: {done['rows_total']:,} rows in {seconds:.2f} s, "
            f"{'ran through the whole measurement' if outlasted else 'ENDED BEFORE the measurement did'})"
        )


def add(total: Result, part: Result) -> None:
    total.seconds += part.seconds
    total.latencies.extend(part.latencies)
    for status, count in part.statuses.items():
        total.statuses[status] = total.statuses.get(status, 0) + count


if __name__ == "__main__":
    main()

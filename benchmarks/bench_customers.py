"""POST /v1/customers against GET /health/live on the same server, in one run.

    python -m benchmarks.bench_customers [--seconds 5] [--rounds 3] [--concurrency 16]

Uses the embedded PostgreSQL unless DATABASE_URL is set. Every POST creates a
new customer (a fresh external id), so each 2xx is a committed row.
"""

import argparse
import itertools
import os
import platform

from benchmarks.loadgen import http_request, interleaved, json_body, running_service, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with running_service() as (port, key, _):
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        live = http_request("GET", "/health/live")

        fresh = itertools.count()

        def create_customer(_: int) -> bytes:
            n = next(fresh)
            body = json_body(
                {
                    "external_id": f"bench-{os.getpid()}-{n}",
                    "email": f"c{n}@example.com",
                    "value": n % 1000,
                    "segment": "smb",
                    "attributes": {"plan": "pro", "seats": n % 50},
                }
            )
            return http_request("POST", "/v1/customers", body=body, headers=auth)

        results = interleaved(
            {"GET /health/live": lambda _: live, "POST /v1/customers (create)": create_customer},
            port,
            rounds=args.rounds,
            seconds=args.seconds,
            concurrency=args.concurrency,
        )
    print(
        f"# {platform.node()} {os.cpu_count()} cpus, concurrency {args.concurrency}, "
        f"{args.rounds} rounds x {args.seconds:g}s each, database: "
        f"{'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded PostgreSQL'}"
    )
    for result in results.values():
        print(result.line())
    for line in summary(results, "GET /health/live"):
        print(line)


if __name__ == "__main__":
    main()

"""Answers recorded at full speed, against GET /health/live on the same server, in one run.

    python -m benchmarks.bench_answers [--seconds 5] [--rounds 3] [--concurrency 16] [--api-scope crm]

Two ways an answer arrives: the survey page's form (`POST /s/{token}`, a person tapping Confirm)
and the CRM's `POST /v1/responses` (an answer collected in-app, with an Idempotency-Key). Each
form POST answers an invitation of its own, prepared through the API before its round, so every
200 is a new answer with its `response.created` event, committed (synchronous_commit on) before
the reply. `POST /v1/responses` is sent with a `crm` key, as a CRM would: an `admin` key
(`--api-scope admin`) also gets an audit-log row, one more committed insert per request. The
outbox is not drained during the run (FEEDBACK_RUN_WORKERS=false): delivering the events is other
work, done by `feedback-svc worker` wherever it runs.

Uses the embedded PostgreSQL unless DATABASE_URL is set.
"""

import argparse
import asyncio
import itertools
import os
import platform
import uuid
from collections import deque
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from benchmarks.loadgen import Result, create_key, http_request, json_body, measure, running_service, summary

LIVE = "GET /health/live"
FORM = "POST /s/{token} (web form)"
API = "POST /v1/responses"
# a form POST that finds its stock used up goes to a token that cannot exist (404), never
# to an answered one: it shows in the statuses and is not counted as an answer
SPENT = "/s/" + "0" * 32


async def _prepare(port: int, auth: dict[str, str], count: int, concurrency: int) -> list[str]:
    """`count` customers, each with one web invitation; returns the survey page paths."""
    paths: list[str] = []
    numbers = iter(range(count))

    async def one_after_another(client: httpx.AsyncClient) -> None:
        for _ in numbers:
            customer = await _post(
                client, "/v1/customers", {"external_id": f"answers-{uuid.uuid4().hex}"}, auth
            )
            invited = await _post(
                client,
                "/v1/invitations",
                {"customer_id": customer["id"], "survey": "nps", "channel": "web"},
                auth,
            )
            paths.append(urlsplit(invited["survey_url"]).path)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        await asyncio.gather(*(one_after_another(client) for _ in range(concurrency)))
    return paths


async def _post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], auth: dict[str, str]
) -> dict[str, Any]:
    """POST with an Idempotency-Key, sent again with the same key when the connection drops."""
    headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
    for attempt in range(3):
        try:
            reply = await client.post(path, json=body, headers=headers)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # the server closed a kept-alive connection just as the request went out on it
            if attempt == 2:
                raise
            continue
        reply.raise_for_status()
        result: dict[str, Any] = reply.json()
        return result
    raise AssertionError("unreachable")


class FormStock:
    """Fresh invitations for the web-form scenario, prepared before each round.

    A round that uses them all up has measured how fast they ran out, not how fast the form
    answers: `measured` says to run that round again, with twice as many.
    """

    def __init__(self, port: int, auth: dict[str, str], concurrency: int, *, expected_rate: float) -> None:
        self._port = port
        self._auth = auth
        self._concurrency = concurrency
        self._expected_rate = expected_rate  # answers/s: a guess, then the best rate seen
        self._paths: deque[str] = deque()

    def fill(self, seconds: float) -> None:
        """Half again the expected rate: enough that a round does not run out."""
        need = int(self._expected_rate * seconds * 1.5) + 500
        self._paths.clear()
        self._paths.extend(asyncio.run(_prepare(self._port, self._auth, need, self._concurrency)))

    def next_path(self) -> str:
        return self._paths.popleft() if self._paths else SPENT

    def measured(self, part: Result) -> bool:
        """False when the round ran out of invitations (measure it again: more are prepared)."""
        rate = _answers_per_second(part)
        if self._paths:
            self._expected_rate = max(self._expected_rate, rate)
            return True
        self._expected_rate = 2 * max(self._expected_rate, rate)
        return False


def _answers_per_second(result: Result) -> float:
    answered = sum(count for status, count in result.statuses.items() if 200 <= status < 300)
    return answered / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--api-scope", choices=("crm", "admin"), default="crm", help="key for /v1/responses")
    args = parser.parse_args()

    with running_service(extra_env={"FEEDBACK_RUN_WORKERS": "false"}) as (port, key, env):
        auth = {"Authorization": f"Bearer {key}"}
        api_key = key if args.api_scope == "admin" else create_key(env, "crm")
        api_headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        live = http_request("GET", "/health/live")
        customer_id = asyncio.run(_new_customer(port, auth))  # who answers in-app
        stock = FormStock(port, auth, args.concurrency, expected_rate=1000.0)
        keys = itertools.count()

        def answer_form(n: int) -> bytes:
            path = stock.next_path()
            body = urlencode({"score": n % 11, "comment": "Quick and friendly"}).encode()
            return http_request("POST", path, body=body, headers=form_headers)

        def answer_api(n: int) -> bytes:
            body = json_body(
                {"customer_id": customer_id, "survey": "nps", "score": n % 11, "comment": "In-app answer"}
            )
            headers = {**api_headers, "Idempotency-Key": f"bench-{os.getpid()}-{next(keys)}"}
            return http_request("POST", "/v1/responses", body=body, headers=headers)

        scenarios = {LIVE: lambda _: live, FORM: answer_form, API: answer_api}
        results = {name: Result(name=name, seconds=0.0) for name in scenarios}
        for _ in range(args.rounds):
            for name, make in scenarios.items():
                while True:
                    if name == FORM:
                        stock.fill(args.seconds)
                    part = measure(name, port, make, seconds=args.seconds, concurrency=args.concurrency)
                    if name != FORM or stock.measured(part):
                        break
                total = results[name]
                total.seconds += part.seconds
                total.latencies.extend(part.latencies)
                for status, count in part.statuses.items():
                    total.statuses[status] = total.statuses.get(status, 0) + count
    print(
        f"# {platform.node()} {os.cpu_count()} cpus, concurrency {args.concurrency}, "
        f"{args.rounds} rounds x {args.seconds:g}s each, database: "
        f"{'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded PostgreSQL'}, "
        f"one uvicorn worker, outbox not drained, /v1/responses with a {args.api_scope} key"
    )
    for result in results.values():
        print(result.line())
    for name in (FORM, API):
        print(f"{name:34} {_answers_per_second(results[name]):9.0f} answers/s (2xx only)")
    for line in summary(results, LIVE):
        print(line)


async def _new_customer(port: int, auth: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        created = await client.post(
            "/v1/customers", json={"external_id": f"answers-api-{uuid.uuid4().hex}"}, headers=auth
        )
        created.raise_for_status()
        return str(created.json()["id"])


if __name__ == "__main__":
    main()

"""Mutation score of the modules behind the service's promises, one module at a time (mutmut).

    pip install -e '.[dev]'
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        python -m benchmarks.mutation [--module NAME ...] [--max-children 2] [--survivors]

mutmut's settings are `[tool.mutmut]` in pyproject.toml: which files are mutated and which tests
speak for them. The first run copies the package into `mutants/` (git-ignored), mutated, and runs
those tests once to learn which test reaches which function; every mutant then runs only the
tests that reached its function, stopping at the first failure. Each module's mutants are run
afresh on every call, so the table is always this code against these tests.

Runs at nice 10 with two workers by default: the machine is shared. Prints, per module, the
mutants, how many the tests killed, how many hung until the timeout (also a detection), how many
survived, and the score (killed + timeouts) / mutants. docs/mutation-testing.md explains the
survivors that are equivalent mutants.
"""

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Module:
    """The functions measured for one promise; `functions` None means the whole file."""

    path: str
    functions: tuple[str, ...] | None = None

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        """mutmut's mutant names: `pkg.mod.x_func__mutmut_3`, `pkg.mod.xǁClassǁmethod__mutmut_3`."""
        if self.functions is None:
            return [f"{self.dotted}.*"]
        patterns = []
        for function in self.functions:
            cls, _, name = function.rpartition(".")
            mangled = f"xǁ{cls}ǁ{name}" if cls else f"x_{name}"
            patterns.append(f"{self.dotted}.{mangled}__mutmut_*")
        return patterns


# the answer-recording part of surveys/service.py; the rest (sending invitations) is not measured here
SURVEY_ANSWERS = (
    "check_score",
    "kinds_admitting",
    "clean_comment",
    "_response",
    "_emit_response_event",
    "invitation_is_open",
    "answer_invitation",
    "answer_by_token",
    "_record_api_response_at_once",
    "record_api_response",
)
# the lease and claim part of recovery/service.py; rules and effectiveness figures are not measured here
RECOVERY_LEASES = (
    "key_actor",
    "claimed_from_row",
    "claim_next",
    "extend_lease",
    "release",
    "add_note",
    "record_contact",
    "resolve",
    "assign",
    "_known_agent",
    "reopen",
    "_must_exist",
    "_refuse",
)

MODULES: dict[str, list[Module]] = {
    "idempotency": [Module("feedback_svc/lib/idempotency.py")],
    "auth": [Module("feedback_svc/lib/auth.py"), Module("feedback_svc/apikeys/service.py")],
    "recovery-leases": [Module("feedback_svc/recovery/service.py", RECOVERY_LEASES)],
    "erasure": [Module("feedback_svc/privacy/service.py")],
    "audit": [Module("feedback_svc/audit/actions.py"), Module("feedback_svc/audit/service.py")],
    "survey-answers": [
        Module("feedback_svc/surveys/tokens.py"),
        Module("feedback_svc/surveys/service.py", SURVEY_ANSWERS),
    ],
    "webhook-signing": [Module("feedback_svc/webhooks/signing.py")],
    "outbox": [
        Module("feedback_svc/outbox/events.py"),
        Module("feedback_svc/outbox/handlers.py"),
        Module("feedback_svc/outbox/queries.py"),
        Module("feedback_svc/outbox/worker.py"),
    ],
}

# mutmut's exit codes (mutmut.stats.status_by_exit_code), folded into what the table shows
KILLED = {1, 3}
SURVIVED = {0}
TIMEOUT = {-24, 24, 152, 255, 36}
NO_TESTS = {5, 33}


def mutmut() -> str:
    # `python -m mutmut` re-imports mutmut.__main__ and warns; the console script does not
    return str(Path(sys.executable).with_name("mutmut"))


def results(modules: list[Module]) -> dict[str, int | None]:
    """Each mutant of these modules with mutmut's exit code for it (None: not run yet)."""
    found: dict[str, int | None] = {}
    for module in modules:
        meta = ROOT / "mutants" / f"{module.path}.meta"
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in codes.items():
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in module.patterns()):
                found[name] = code
    return found


def tally(codes: dict[str, int | None]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for code in codes.values():
        if code in KILLED:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
        elif code in TIMEOUT:
            counts["timeout"] += 1
        elif code in NO_TESTS:
            counts["no tests"] += 1
        else:
            counts["other"] += 1
    return {"mutants": len(codes), **counts}


def score(counts: dict[str, int]) -> float:
    detected = counts.get("killed", 0) + counts.get("timeout", 0)
    return 100.0 * detected / counts["mutants"] if counts["mutants"] else 0.0


def run_module(name: str, *, max_children: int, log: Path) -> float:
    """Run one module's mutants afresh; returns the seconds it took."""
    patterns = [pattern for module in MODULES[name] for pattern in module.patterns()]
    started = time.monotonic()
    with log.open("w") as out:
        # naming the mutants makes mutmut test them again even when it has a result for them
        completed = subprocess.run(
            [mutmut(), "run", "--max-children", str(max_children), *patterns],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if completed.returncode != 0:
        sys.exit(f"mutmut failed for {name} (exit {completed.returncode}); its output is in {log}")
    return time.monotonic() - started


def print_table(rows: list[tuple[str, dict[str, int], float | None]]) -> None:
    header = ("module", "mutants", "killed", "timeouts", "survived", "no tests", "score", "time")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for name, counts, seconds in rows:
        cells = (
            name,
            str(counts["mutants"]),
            str(counts.get("killed", 0)),
            str(counts.get("timeout", 0)),
            str(counts.get("survived", 0)),
            str(counts.get("no tests", 0)),
            f"{score(counts):.1f} %",
            f"{seconds / 60:.1f} min" if seconds is not None else "-",
        )
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="repeatable; default: all")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutants (default 2)")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants' names")
    parser.add_argument(
        "--report-only", action="store_true", help="print the table of the last run without running"
    )
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ first (new stats, new mutants)")
    args = parser.parse_args()

    if not args.report_only and not os.environ.get("TEST_DATABASE_URL"):
        # without it every mutant's pytest would start an embedded PostgreSQL of its own
        sys.exit("Set TEST_DATABASE_URL to a PostgreSQL the tests may create databases on.")
    os.nice(10)  # the machine is shared: mutants yield to interactive work
    if args.fresh:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    (ROOT / "mutants").mkdir(exist_ok=True)

    names = args.module or list(MODULES)
    rows: list[tuple[str, dict[str, int], float | None]] = []
    total_started = time.monotonic()
    for name in names:
        seconds = None
        if not args.report_only:
            seconds = run_module(name, max_children=args.max_children, log=ROOT / "mutants" / f"{name}.log")
        codes = results(MODULES[name])
        rows.append((name, tally(codes), seconds))
        if args.survivors:
            for mutant, code in sorted(codes.items()):
                if code in SURVIVED:
                    print(f"survived: {mutant}", file=sys.stderr)
    print_table(rows)
    if not args.report_only:
        print(f"\ntotal: {(time.monotonic() - total_started) / 60:.1f} min with {args.max_children} workers")


if __name__ == "__main__":
    main()

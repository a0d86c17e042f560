"""Mutation score of the modules behind the service's promises, one module at a time (mutmut).

    pip install -e '.[dev]'
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        python -m benchmarks.mutation [--module NAME ...] [--max-mutants N] [--max-children 2] [--survivors]

mutmut's settings are `[tool.mutmut]` in pyproject.toml: which files are mutated and which tests
speak for them. The first run copies the package into `mutants/` (git-ignored), mutated, and runs
those tests once to learn which test reaches which function; every mutant then runs only the
tests that reached its function, stopping at the first failure. Each module's mutants are run
afresh on every call, so the table is always this code against these tests; after tests were only
added, `--retest-survivors` tests again just the mutants the last run left alive.

`--max-mutants N` bounds the run: it tests N of a module's mutants, spread evenly over the
module's mutants in mutmut's order (so the same N each time the code is the same), and the score
is then an estimate from that sample.

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
    """The functions measured for one promise; `functions` None means the whole file.

    `first_tests` are the tests written for this file: a mutant runs them before the other tests
    that reach its function (tests/conftest.py orders them), so it is found without first
    running through every HTTP test that merely passes through the function.
    """

    path: str
    functions: tuple[str, ...] | None = None
    first_tests: tuple[str, ...] = ()

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

AUTH_TESTS = (
    "tests/unit/test_route_scopes.py",
    "tests/integration/test_api_keys.py",
    "tests/integration/test_api_key_verifier.py",
    "tests/integration/test_bad_requests.py",
    "tests/integration/test_scopes_every_route.py",
    "tests/integration/test_options.py",
    "tests/integration/test_rate_limits.py",
    "tests/integration/test_health.py",
)

OUTBOX_TESTS = ("tests/unit/outbox", "tests/integration/outbox")

MODULES: dict[str, list[Module]] = {
    "idempotency": [
        Module(
            "feedback_svc/lib/idempotency.py",
            first_tests=(
                "tests/integration/test_idempotency.py",
                "tests/integration/surveys/test_keyed_answers.py",
            ),
        )
    ],
    "auth": [
        Module("feedback_svc/lib/auth.py", first_tests=AUTH_TESTS),
        Module("feedback_svc/apikeys/service.py", first_tests=AUTH_TESTS),
    ],
    "recovery-leases": [Module("feedback_svc/recovery/service.py", RECOVERY_LEASES)],
    "erasure": [
        Module("feedback_svc/privacy/service.py", first_tests=("tests/integration/privacy/test_erasure.py",))
    ],
    "audit": [Module("feedback_svc/audit/actions.py"), Module("feedback_svc/audit/service.py")],
    "survey-answers": [
        Module("feedback_svc/surveys/tokens.py"),
        Module("feedback_svc/surveys/service.py", SURVEY_ANSWERS),
    ],
    "webhook-signing": [
        Module(
            "feedback_svc/webhooks/signing.py",
            first_tests=(
                "tests/unit/webhooks/test_signing.py",
                "tests/integration/webhooks/test_delivery.py",
            ),
        )
    ],
    "outbox": [
        Module(f"feedback_svc/outbox/{name}.py", first_tests=OUTBOX_TESTS)
        for name in ("events", "handlers", "queries", "worker")
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


def results(modules: list[Module], only: set[str] | None = None) -> dict[str, int | None]:
    """Each mutant of these modules (of `only`, if given) with mutmut's exit code (None: not run yet)."""
    found: dict[str, int | None] = {}
    for module in modules:
        meta = ROOT / "mutants" / f"{module.path}.meta"
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in codes.items():
            if only is not None and name not in only:
                continue
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in module.patterns()):
                found[name] = code
    return found


def tally(codes: dict[str, int | None]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for code in codes.values():
        if code is None:
            counts["not run"] += 1  # an interrupted run: these are left out of the score
        elif code in KILLED:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
        elif code in TIMEOUT:
            counts["timeout"] += 1
        elif code in NO_TESTS:
            counts["no tests"] += 1  # no selected test reaches the function: counted as survivors
        else:
            counts["other"] += 1
    return {"mutants": len(codes), **counts}


def score(counts: dict[str, int]) -> float:
    detected = counts.get("killed", 0) + counts.get("timeout", 0)
    tested = counts["mutants"] - counts.get("not run", 0)
    return 100.0 * detected / tested if tested else 0.0


def generate_mutants() -> None:
    """mutmut's first step alone (copy the package into mutants/, write every mutant), so the
    mutants can be counted and sampled before any is run. mutmut has no command for it."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, create_mutants\n"
            "copy_src_dir(); copy_also_copy_files(); create_mutants(2)",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def sample(names: list[str], size: int) -> list[str]:
    """`size` names spread evenly over `names`, in mutmut's order (file, function, number)."""
    if size >= len(names):
        return names
    return [names[i * len(names) // size] for i in range(size)]


def mutant_order(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number)


def chosen_mutants(names: list[str], max_mutants: int | None) -> dict[str, set[str] | None]:
    """Per module, the mutants to test: all (None) or an even sample of `max_mutants`."""
    if max_mutants is None:
        return dict.fromkeys(names)
    return {
        name: set(sample(sorted(results(MODULES[name]), key=mutant_order), max_mutants)) for name in names
    }


def first_tests() -> dict[str, list[str]]:
    """Per mutated module (dotted), the tests its mutants run first (read by tests/conftest.py)."""
    return {
        module.dotted: list(module.first_tests)
        for modules in MODULES.values()
        for module in modules
        if module.first_tests
    }


def survivors_of(chosen: dict[str, set[str] | None]) -> dict[str, set[str] | None]:
    """Of the chosen mutants, those the last run left alive (survived, no tests, not run).

    Tests added since cannot bring a killed mutant back, so after adding tests only these need
    testing again, and the table then counts every chosen mutant against the current tests. Not
    after changing the code or a test: run everything then (mutmut resets the changed functions'
    mutants itself, but not those a changed test no longer kills).
    """
    alive: dict[str, set[str] | None] = {}
    for name, only in chosen.items():
        codes = results(MODULES[name], only)
        alive[name] = {
            mutant for mutant, code in codes.items() if code is None or code in SURVIVED | NO_TESTS
        }
    return alive


def refresh_package_data() -> int:
    """Copy into mutants/ each non-Python file of the package that changed since mutmut copied it.

    mutmut copies the package's other files (the .sql beside each module) only into a mutants/
    that lacks them, and never again: after a query changed, every test would run the new Python
    against the old SQL and fail before any mutant is tried. Returns how many were copied.
    """
    copied = 0
    for source in (ROOT / "feedback_svc").rglob("*"):
        if not source.is_file() or source.suffix in {".py", ".pyc"}:
            continue
        target = ROOT / "mutants" / source.relative_to(ROOT)
        if target.exists() and target.read_bytes() != source.read_bytes():
            shutil.copy2(source, target)
            copied += 1
    return copied


def run_mutmut(
    chosen: dict[str, set[str] | None], *, max_children: int, log: Path, fresh_stats: bool = True
) -> float:
    """One mutmut run over the chosen modules' mutants, afresh; returns the seconds it took.

    One run, not one per module: before testing mutants mutmut runs all their tests once on the
    unmutated code, and for the modules sharing the HTTP tests that would be paid again and again.
    """
    targets: list[str] = []
    for name, only in chosen.items():
        if only is None:
            targets += [pattern for module in MODULES[name] for pattern in module.patterns()]
        else:
            targets += sorted(only, key=mutant_order)
    if not targets:
        return 0.0  # nothing to test; `mutmut run` without names would test every mutant
    refresh_package_data()
    if fresh_stats:
        # mutmut keeps which test reaches which function from its last run and only adds to it:
        # a function written since then would have no tests and count as a survivor
        (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    started = time.monotonic()
    with log.open("w") as out:
        # naming the mutants makes mutmut test them again even when it has a result for them
        completed = subprocess.run(
            [mutmut(), "run", "--max-children", str(max_children), *targets],
            cwd=ROOT,
            env={**os.environ, "MUTATION_FIRST_TESTS": json.dumps(first_tests())},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if completed.returncode != 0:
        sys.exit(f"mutmut failed (exit {completed.returncode}); its output is in {log}")
    return time.monotonic() - started


def test_minutes(modules: list[Module], only: set[str] | None) -> float:
    """Wall time mutmut spent on these mutants' tests, added up over its workers."""
    total = 0.0
    for module in modules:
        meta = ROOT / "mutants" / f"{module.path}.meta"
        if meta.exists():
            durations = json.loads(meta.read_text()).get("durations_by_key", {})
            measured = results([module], only)
            total += sum(seconds for name, seconds in durations.items() if name in measured)
    return total / 60


def print_table(rows: list[tuple[str, dict[str, int], float]]) -> None:
    header = ("module", "mutants", "killed", "timeouts", "survived", "no tests", "not run", "score")
    header += ("test time",)
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for name, counts, minutes in rows:
        cells = (
            name,
            str(counts["mutants"]),
            str(counts.get("killed", 0)),
            str(counts.get("timeout", 0)),
            str(counts.get("survived", 0)),
            str(counts.get("no tests", 0)),
            str(counts.get("not run", 0)),
            f"{score(counts):.1f} %",
            f"{minutes:.1f} min",
        )
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="repeatable; default: all")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutants (default 2)")
    parser.add_argument("--max-mutants", type=int, help="test an even sample of N mutants per module")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants' names")
    parser.add_argument(
        "--report-only", action="store_true", help="print the table of the last run without running"
    )
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ first (new stats, new mutants)")
    parser.add_argument(
        "--retest-survivors",
        action="store_true",
        help="test again only the mutants that survived the last run (after tests were added)",
    )
    args = parser.parse_args()

    if not args.report_only and not os.environ.get("TEST_DATABASE_URL"):
        # without it every mutant's pytest would start an embedded PostgreSQL of its own
        sys.exit("Set TEST_DATABASE_URL to a PostgreSQL the tests may create databases on.")
    os.nice(10)  # the machine is shared: mutants yield to interactive work
    if args.fresh:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    if args.max_mutants is not None and not args.report_only:
        generate_mutants()

    names = args.module or list(MODULES)
    chosen = chosen_mutants(names, args.max_mutants)
    seconds = None
    if not args.report_only:
        (ROOT / "mutants").mkdir(exist_ok=True)
        to_run = survivors_of(chosen) if args.retest_survivors else chosen
        seconds = run_mutmut(
            to_run,
            max_children=args.max_children,
            log=ROOT / "mutants" / "run.log",
            fresh_stats=not args.retest_survivors,
        )
    rows = []
    for name in names:
        codes = results(MODULES[name], chosen[name])
        rows.append((name, tally(codes), test_minutes(MODULES[name], chosen[name])))
        if args.survivors:
            for mutant, code in sorted(codes.items()):
                if code in SURVIVED:
                    print(f"survived: {mutant}", file=sys.stderr)
    print_table(rows)
    if seconds is not None:
        minutes = seconds / 60
        print(f"\ntotal: {minutes:.1f} min with {args.max_children} workers (mutmut's log: mutants/run.log)")


if __name__ == "__main__":
    main()

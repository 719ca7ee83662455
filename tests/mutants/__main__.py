"""``python -m tests.mutants [--baseline] [NAME ...]``: run the mutant catalogue and print the kill table."""

from __future__ import annotations

import argparse
import sys

from tests.mutants.catalogue import MUTANTS
from tests.mutants.runner import BROKEN, KILLED, SURVIVED, kill_table, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__)
    parser.add_argument("names", nargs="*", help="entries to run (default: all)")
    parser.add_argument("--baseline", action="store_true", help="run the selections on unmutated code")
    parser.add_argument(
        "--no-confirm", action="store_true", help="do not re-run the check that caught a mutant on unmutated code"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print the end of each run's output")
    args = parser.parse_args(argv)
    known = {m.name: m for m in MUTANTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutant(s) {unknown}; known: {', '.join(known)}")
    outcomes = []
    for mutant in [known[n] for n in args.names] or MUTANTS:
        outcome = run(mutant, baseline=args.baseline, confirm=not args.no_confirm)
        outcomes.append(outcome)
        print(f"{outcome.name}: {outcome.status} ({outcome.seconds:.1f} s)", file=sys.stderr, flush=True)
        if args.verbose or outcome.status == BROKEN:
            print(outcome.detail, file=sys.stderr)
    print("\n".join(kill_table(outcomes)))
    wanted = SURVIVED if args.baseline else KILLED
    return 0 if all(o.status == wanted for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.report`: every goal of issue 14 with its figure, its baseline from the
same run, the ratio and a verdict, from what the bench steps recorded (bench.goals)."""

from __future__ import annotations

import sys

from bench.goals import RESULTS, load, report


def main() -> int:
    results = load()
    print(f"Civic's performance goals (issue 14), from {RESULTS}:")
    print()
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

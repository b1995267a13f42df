"""The chaos suite (issue 12): a workload through the public API while faults are
injected, then Jepsen's counts. `python -m tests.chaos.run --short`; see run.py."""

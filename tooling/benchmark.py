"""Benchmark: wall time of one stack's program evaluation under the mock engine, and of
the whole test suite. Numbers go into closing notes; tests never time anything.

    .venv/bin/python -m tooling.benchmark                 # every stack, 5 runs each, plus the suite
    .venv/bin/python -m tooling.benchmark --runs 10 --no-suite

Budget (2-core machine): a stack evaluation well under 1 s once imported, so `make plan` and the
graph tests stay interactive. The suite's time is spread over ~1,200 tests, most of them whole-program
evaluations of 0.1-0.8 s each, plus two subprocess tests of ~5 s (`pytest --durations=25` lists them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from .paths import PROJECT_DIR


def time_stack(stack: str, runs: int) -> tuple[float, list[float]]:
    """(cold, warm runs): the first evaluation pays the SDK imports, later ones do not."""
    start = time.perf_counter()
    from .mockengine import run_program

    run_program(stack)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(runs):
        t = time.perf_counter()
        run_program(stack)
        warm.append(time.perf_counter() - t)
    return cold, warm


def time_suite() -> tuple[float, int]:
    env = dict(os.environ)
    env.setdefault("CILIUM_EKS_REFERENCE_DIR", str(PROJECT_DIR.parent / "shared"))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=PROJECT_DIR,
                          env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - t, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-suite", action="store_true")
    args = parser.parse_args(argv)

    from .stackfiles import stack_files

    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for i, stack in enumerate(stack_files()):
        if i == 0:
            cold, warm = time_stack(stack, args.runs)
            print(f"stack {stack:6s} first evaluation (imports included): {cold:6.2f} s")
        else:
            _, warm = time_stack(stack, args.runs)
        print(f"stack {stack:6s} evaluation: median {statistics.median(warm):.2f} s, "
              f"min {min(warm):.2f} s, max {max(warm):.2f} s over {len(warm)} runs")
    if not args.no_suite:
        seconds, rc = time_suite()
        print(f"test suite (pytest, one process): {seconds:.1f} s, exit code {rc}")
        return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())

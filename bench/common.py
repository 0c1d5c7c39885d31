"""Timing, result records and the readable table every benchmark prints."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    metric: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: float | None
    target_on: str | None
    met: bool | None
    backend: str | None
    n: int


def median_seconds(func: Callable[[], object], repeat: int = 7, warmup: int = 2) -> float:
    """Median wall time of `func` after warm-up runs (the machine is shared and noisy)."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def compare(
    metric: str,
    value: float,
    baseline: float | None,
    *,
    backend: str,
    n: int,
    unit: str = "s",
    target: float | None = None,
    target_on: str | None = None,
) -> Result:
    ratio = value / baseline if baseline else None
    measured = ratio if target_on == "ratio" else value
    met = None if target is None or measured is None else measured <= target
    return Result(metric, value, unit, baseline, ratio, target, target_on, met, backend, n)


def write_results(name: str, results: list[Result]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps([asdict(r) for r in results], indent=2, ensure_ascii=False))
    print(
        f"\n{name} ({results[0].backend if results else '-'}, n={results[0].n if results else 0})"
    )
    print(f"{'metric':<60} {'value':>10} {'baseline':>10} {'ratio':>8} {'target':>8}  met")
    for r in results:
        baseline = f"{r.baseline:.4f}" if r.baseline is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        target = f"{r.target:g}" if r.target is not None else "-"
        print(f"{r.metric:<60} {r.value:>10.4f} {baseline:>10} {ratio:>8} {target:>8}  {r.met}")
    print(f"-> {path}")
    return path

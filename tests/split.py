"""Share the test files out among N processes by their rough length (bin/test TEST_SPLIT):
the longest first, each to the least loaded process. Seconds as measured on a 2-core
machine; a file not named here counts as an ordinary one."""

from __future__ import annotations

import sys
from pathlib import Path

SECONDS = {
    "test_production_run.py": 330,
    # Several instances as separate processes (each its own `flask init`).
    "test_sync_tiers.py": 330,
    "test_transfers.py": 180,
    "test_sync_core.py": 170,
    "test_drilldown_reports.py": 180,
    "test_backup.py": 280,
    "test_commands_refuse.py": 240,
    "test_demo.py": 200,
    "test_demo_preset.py": 200,
    "test_import_members.py": 180,
    "test_embedded_defaults.py": 150,
    "test_worklist.py": 130,
    "test_dashboard.py": 120,
    "test_access_matrix.py": 120,
    "test_drilldown.py": 100,
    "test_healthz.py": 90,
    "test_report_figures.py": 90,
    "test_routes_get_safe.py": 90,
    "test_every_screen_vietnamese.py": 80,
    "test_photo_batches.py": 80,
    "test_photos.py": 80,
}
ORDINARY = 25


def shares(files: list[str], parts: int) -> list[list[str]]:
    loads = [0] * parts
    chosen: list[list[str]] = [[] for _ in range(parts)]
    for name in sorted(files, key=lambda f: (-SECONDS.get(Path(f).name, ORDINARY), f)):
        part = loads.index(min(loads))
        chosen[part].append(name)
        loads[part] += SECONDS.get(Path(name).name, ORDINARY)
    return [sorted(files) for files in chosen]


if __name__ == "__main__":
    parts, which = int(sys.argv[1]), int(sys.argv[2])
    tests = sorted(str(p) for p in Path("tests").glob("test_*.py"))
    print(" ".join(shares(tests, parts)[which - 1]))

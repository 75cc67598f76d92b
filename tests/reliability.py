"""Figures the reliability tests measure (attacks tried, domains at once, soak length,
bytes verified...), kept in one JSON file in pytest's cache folder so that
`python -m tools.reliability_report` can write docs/reliability.md from a real run.

Each record is keyed by (section, case): a later run of the same test replaces it."""
from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = Path(os.environ.get("HV_RELIABILITY_FILE",
                              ROOT / ".pytest_cache" / "hvcore-reliability.json"))


def record(section: str, case: str, **figures) -> None:
    """Store `figures` (numbers or short strings) for one test case."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with open(FIGURES, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        data = json.loads(text) if text.strip() else {}
        data.setdefault(section, {})[case] = {
            **figures, "when": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "cpus": os.cpu_count(), "load": round(os.getloadavg()[0], 1),
            "python": platform.python_version()}
        f.seek(0)
        f.truncate()
        json.dump(data, f, indent=1, sort_keys=True)

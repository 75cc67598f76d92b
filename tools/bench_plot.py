"""The plot on docs/benchmarks.md: every row that has a target, as how far its median is
from that target (1.0 = exactly on it; left of the line is better, for "at most" and
"at least" targets alike), so a reader sees at a glance where the project stands."""
from __future__ import annotations

import re
import statistics
from pathlib import Path

_TARGET = re.compile(r"(<=|>=|<|>)\s*([0-9.]+)")


def target_ratio(row) -> float | None:
    """median / target for an "at most" target, target / median for an "at least" one:
    below 1.0 means the target is met."""
    found = _TARGET.search(row.target or "")
    if not found or not row.values or row.error:
        return None
    sign, target = found.group(1), float(found.group(2))
    median = statistics.median(row.values)
    if median <= 0 or target <= 0:
        return None
    return median / target if sign.startswith("<") else target / median


def plot(rows, path: Path) -> bool:
    """Write the PNG; False (and no file) when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    items = [(f"{r.title} ({r.abi})" if r.abi != "-" else r.title, ratio)
             for r in rows if (ratio := target_ratio(r)) is not None]
    if not items:
        return False
    labels, ratios = zip(*items)
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(items) + 1.5))
    colours = ["tab:green" if x <= 1.0 else "tab:red" for x in ratios]
    # bars grow from the target line: left for met, right for missed
    ax.barh(range(len(items)), [x - 1.0 for x in ratios], left=1.0, color=colours)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(items)), [label[:70] for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("distance from target (log scale): < 1 met, > 1 missed")
    ax.set_title("hvcore benchmarks against their targets")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True

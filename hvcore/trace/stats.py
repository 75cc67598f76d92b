"""Latency statistics for summaries: counts, percentiles and log2 histograms."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# histogram bucket edges in microseconds: <1, 1-2, 2-4 ... 128-256, >=256
EDGES_US = (1, 2, 4, 8, 16, 32, 64, 128, 256)
BUCKET_LABELS = ("<1", "1-2", "2-4", "4-8", "8-16", "16-32", "32-64", "64-128", "128-256",
                 ">=256")


@dataclass
class Latencies:
    durations_ns: list[int] = field(default_factory=list)

    def add(self, ns: int) -> None:
        self.durations_ns.append(ns)

    @property
    def count(self) -> int:
        return len(self.durations_ns)

    def percentile(self, p: float) -> float:
        """In microseconds (nearest rank)."""
        ordered = sorted(self.durations_ns)
        if not ordered:
            return 0.0
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] / 1000

    def total_us(self) -> float:
        return sum(self.durations_ns) / 1000

    def histogram(self) -> list[int]:
        buckets = [0] * (len(EDGES_US) + 1)
        for ns in self.durations_ns:
            buckets[bisect.bisect_right(EDGES_US, ns / 1000)] += 1
        return buckets

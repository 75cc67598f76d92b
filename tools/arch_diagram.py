"""Write docs/architecture.svg, the processes and the paths between them, from the
boxes and arrows below (the SVG is committed; rerun this after changing them).

    .venv/bin/python -m tools.arch_diagram
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parent.parent / "docs" / "architecture.svg"

# name: (x, y, width, height, lines)
BOXES = {
    "hv": (20, 20, 200, 60, ["hv (tools/hv.py)", "CLI, hv run's loop"]),
    "dom0": (300, 20, 300, 110, ["host / dom0 (host/supervisor.py)", "xenstored, console daemon",
                                 "blkback, netback, grant service", "dom0 event channels"]),
    "d1": (20, 220, 260, 110, ["domain process d1 (host/domain_main.py)", "vCPU threads: engine.py",
                               "hypercalls/, arch/x86/pv/traps.py", "inbox.py (requests in)"]),
    "d2": (340, 220, 260, 110, ["domain process d2", "same code, its own engine",
                                "and guest RAM memfd", ""]),
    "ram": (20, 400, 580, 50, ["guest RAM: memfd (memory.py), mapped by the host for rings",
                               "and by peers for granted frames (grant_table.py)"]),
}
ARROWS = [
    ("hv", "dom0", "Unix socket (host/client.py)"),
    ("dom0", "d1", "socket: built, console_io, shutdown"),
    ("dom0", "d2", ""),
    ("d1", "d2", "inbox rings + eventfd: events"),
    ("d1", "ram", "engine maps"),
    ("dom0", "ram", "rings, grants"),
]


def _center(name: str) -> tuple[float, float]:
    x, y, w, h, _ = BOXES[name]
    return x + w / 2, y + h / 2


def _box(name: str) -> str:
    x, y, w, h, lines = BOXES[name]
    text = "".join(f'<text x="{x + 8}" y="{y + 20 + 18 * i}">{escape(line)}</text>'
                   for i, line in enumerate(lines))
    return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" class="box"/>{text}'


def _arrow(a: str, b: str, label: str) -> str:
    (x1, y1), (x2, y2) = _center(a), _center(b)
    mid = f'<text x="{(x1 + x2) / 2 + 6}" y="{(y1 + y2) / 2}" class="label">{escape(label)}</text>'
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#head)"/>{mid}'


def render() -> str:
    style = ("<style>text{font:13px sans-serif}.label{font-size:11px;fill:#555}"
             ".box{fill:#f4f7fb;stroke:#333}line{stroke:#777;stroke-width:1.5}</style>")
    head = ('<defs><marker id="head" markerWidth="8" markerHeight="8" refX="8" refY="4"'
            ' orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>')
    body = "".join(_arrow(*a) for a in ARROWS) + "".join(_box(n) for n in BOXES)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="620" height="470">'
            f"{style}{head}{body}</svg>\n")


if __name__ == "__main__":
    OUT.write_text(render())

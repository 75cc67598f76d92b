"""`hv trace timeline`: the page is rendered by a real browser (headless Chromium,
installed by tools/setup.sh) from a trace of a guest that blocks on timer ticks."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from conftest import kernel, run_hv

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render(page) -> str:
    """The page's DOM after its scripts ran."""
    if CHROMIUM is None:
        pytest.fail("chromium is missing: tools/setup.sh installs it")
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_timeline_renders_lanes_runs_blocks_and_hypercalls(guests, tmp_path):
    trace = tmp_path / "ticker.trace"
    assert run_hv("run", kernel("pv64", "ticker"), "--trace", "all",
                  "--trace-out", trace, "--timeout", "60").code == 0
    page = tmp_path / "ticker.html"
    r = run_hv("trace", "timeline", trace, "-o", page)
    assert r.code == 0, r.stderr
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")   # no network
    data = json.loads(re.search(r'id="timeline-data">(.*?)</script>', html, re.S).group(1)
                      .replace("<\\/", "</"))
    lane = data["lanes"][0]
    assert lane["label"] == "d1 ticker vCPU0"
    assert len(lane["blocked"]) >= 10 and lane["run"] and lane["hypercall"]
    expected = sum(len(lane[k]) for k in ("run", "blocked", "hypercall", "trap", "event"))
    dom = render(page)
    status = re.search(r'id="status">rendered (\d+) marks in (\d+) lanes', dom)
    assert status, dom[-2000:]
    assert int(status.group(1)) == expected and int(status.group(2)) == 1
    assert len(re.findall(r'<rect [^>]*class="mark blocked"', dom)) == len(lane["blocked"])
    assert len(re.findall(r'<rect [^>]*class="mark hypercall"', dom)) == len(lane["hypercall"])

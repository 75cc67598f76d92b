"""Write docs/cli.md, the `hv` command reference, from the argparse parser itself
(tools/hv.py build_parser), so the reference never drifts from the code.

    .venv/bin/python -m tools.cli_reference          # rewrite docs/cli.md
    .venv/bin/python -m tools.cli_reference --check  # exit 1 if docs/cli.md is stale
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tools.hv import build_parser

OUT = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _option_rows(sub: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = ", ".join(action.option_strings) or (action.metavar or action.dest)
        if action.option_strings and action.nargs != 0:
            name += f" {action.metavar or action.dest.upper()}"
        text = (action.help or "").replace("|", "\\|")
        if action.choices and not action.option_strings:
            text = (text + " one of: " + ", ".join(map(str, action.choices))).strip()
        rows.append(f"| `{name}` | {text} |".replace("`CONFIG|KERNEL`", "`CONFIG\\|KERNEL`"))
    return rows


def render() -> str:
    os.environ["COLUMNS"] = "100"       # argparse wraps usage lines to the terminal
    parser = build_parser()
    lines = ["# `hv` command reference", "",
             "Generated from the argument parser by `python -m tools.cli_reference`;"
             " do not edit by hand (tests/test_docs.py checks it is current).", ""]
    helps = _helps(parser)
    for name, sub in _subparsers(parser).items():
        sub.prog = f"hv {name}"
        lines += [f"## hv {name}", "", helps.get(name, ""), "", "```",
                  sub.format_usage().strip().removeprefix("usage: "), "```", ""]
        rows = _option_rows(sub)
        if rows:
            lines += ["| argument | meaning |", "| --- | --- |", *rows, ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        return 0 if OUT.is_file() and OUT.read_text() == text else 1
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

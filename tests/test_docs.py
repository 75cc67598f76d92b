"""The generated documents are current: docs/cli.md from the parser, the diagram from
its source."""
from tools import arch_diagram, cli_reference


def test_cli_reference_matches_the_parser():
    assert cli_reference.OUT.read_text() == cli_reference.render(), \
        "docs/cli.md is stale: run .venv/bin/python -m tools.cli_reference"


def test_architecture_diagram_matches_its_source():
    assert arch_diagram.OUT.read_text() == arch_diagram.render(), \
        "docs/architecture.svg is stale: run .venv/bin/python -m tools.arch_diagram"


def test_every_run_option_is_documented():
    text = cli_reference.OUT.read_text()
    for option in ("--expect", "--no-progress", "--json", "--hypercalls", "--gdb"):
        assert f"`{option}" in text

"""Deterministic execution, record/replay and reverse debugging (`hv run --deterministic`,
`--record`, `--replay`; gdb reverse-stepi/reverse-continue). See docs/user-guide.md."""

"""Execution and event traces of domains (docs/trace-format.md).

`spec` parses `--trace SPEC`; `tracer` records in the domain's process (`native` runs
the C instruction/block hook); `writer` appends records to the file and `reader` reads
them back for `hv trace show|summary|timeline` (`show`, `summary`, `timeline`).
"""

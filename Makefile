# Entry points: `make demo` boots the demo guests, `make test` runs the whole suite.
# Both set everything up first (Debian packages, .venv, guest kernels).
PY := .venv/bin/python

.PHONY: setup guests demo test bench clean

setup:
	@tools/setup.sh

guests: setup
	@$(MAKE) -s -C guests
	@$(MAKE) -s -C firmware
	@$(MAKE) -s -C guests/hvm
	@$(MAKE) -s -C guests/pvh

demo: guests
	@$(PY) -m tools.demo

test: guests
	@$(PY) -m pytest -q

bench: guests
	@$(PY) -m pip install -q -e '.[bench]' >/dev/null 2>&1 || echo "bench: matplotlib not installed: no plot"
	@$(PY) -m tools.bench

clean:
	@$(MAKE) -s -C guests clean
	@$(MAKE) -s -C firmware clean
	@$(MAKE) -s -C guests/hvm clean
	@$(MAKE) -s -C guests/pvh clean

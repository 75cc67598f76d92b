"""PC devices, one module each (names from the PC/Intel documents)."""

"""The host side: domains as OS processes, and what the supervisor needs to drive them."""

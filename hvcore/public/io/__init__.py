"""Shared-ring protocols: public/io/*.h."""

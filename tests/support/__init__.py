"""Shared test helpers (imported as ``support``; tests/ is on sys.path under pytest)."""

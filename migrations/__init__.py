"""Alembic migrations of the hub's schema (installed as ``hub.migrations``)."""

"""Celery tasks (filled in by issue 11)."""

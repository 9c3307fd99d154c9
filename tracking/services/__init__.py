"""Writes of the tracking app: API apps (apps.py), quotas (quotas.py)."""

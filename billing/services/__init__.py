"""Billing services: the writes (fee schedules, the monthly run, invoice lifecycle, collection)."""

"""What the agreements admins share."""

PROVIDER_SEARCH = ("provider__legal_name", "provider__dba_name", "provider__crid")
DECISION_FIELDS = ("decided_by", "decided_at", "decision_reason")

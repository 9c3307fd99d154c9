"""Staff admin (filled in by issue 11)."""

"""API routes (filled in by issue 11)."""

urlpatterns: list = []

"""Portal pages (filled in by issue 11)."""

urlpatterns: list = []

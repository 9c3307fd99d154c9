"""Portal pages of the tracking app (API apps, usage, try it)."""

app_name = "tracking"
urlpatterns: list = []

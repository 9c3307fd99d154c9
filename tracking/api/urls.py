"""The USPS-compatible API: Tracking 3.0 and 3.2."""

urlpatterns: list = []

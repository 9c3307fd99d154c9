"""Portal routes of scan event extracts (included by tracking/urls.py, namespace "tracking")."""

from tracking.extracts.views import urlpatterns

__all__ = ["urlpatterns"]

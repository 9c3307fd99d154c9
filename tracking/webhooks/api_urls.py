"""Subscriptions-Tracking 3.2, mounted at /subscriptions-tracking/v3r2/ (config/urls.py)."""

from django.urls import path, re_path

from tracking.webhooks.api_views import (
    SubscriptionApiView,
    SubscriptionsApiView,
    SubscriptionsNotFoundView,
)

urlpatterns = [
    path("subscriptions", SubscriptionsApiView.as_view(), name="api_subscriptions"),
    path(
        "subscriptions/<str:subscriptionId>",
        SubscriptionApiView.as_view(),
        name="api_subscription",
    ),
    re_path(r"^", SubscriptionsNotFoundView.as_view(), name="api_subscriptions_not_found"),
]

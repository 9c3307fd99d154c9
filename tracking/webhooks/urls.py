"""Portal pages of the webhooks, in the "tracking" namespace."""

from django.urls import path

from tracking.webhooks import views

urlpatterns = [
    path("developers/webhooks/", views.WebhookListView.as_view(), name="webhooks"),
    path("developers/webhooks/new/", views.WebhookCreateView.as_view(), name="webhook_create"),
    path(
        "developers/webhooks/<uuid:public_id>/",
        views.WebhookDetailView.as_view(),
        name="webhook",
    ),
    path(
        "developers/webhooks/<uuid:public_id>/status/",
        views.WebhookStatusView.as_view(),
        name="webhook_status",
    ),
    path(
        "developers/webhooks/<uuid:public_id>/delete/",
        views.WebhookDeleteView.as_view(),
        name="webhook_delete",
    ),
    path(
        "developers/webhooks/<uuid:public_id>/deliveries/<uuid:delivery_id>/replay/",
        views.DeliveryReplayView.as_view(),
        name="delivery_replay",
    ),
]

"""Stripe webhooks, mounted at /stripe/webhook/."""

from django.urls import path

from billing.webhook_views import stripe_webhook

urlpatterns = [path("", stripe_webhook, name="stripe_webhook")]

"""Tracking webhooks in the USPS Subscriptions-Tracking 3.2 shape: subscriptions, signed
deliveries with retries, suspension and replay (docs/webhooks.md)."""

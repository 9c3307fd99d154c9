"""The Stripe webhook endpoint: verify, store, answer. Processing happens in a task."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import stripe_gateway
from billing.services.webhooks import stripe_event_receive


@csrf_exempt  # Stripe cannot send our CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = stripe_gateway.webhook_event(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except stripe_gateway.WebhookSignatureError:
        return HttpResponse(
            "Invalid Stripe signature.", status=400, content_type="text/plain; charset=utf-8"
        )
    _, created = stripe_event_receive(event=event)
    return HttpResponse(
        "Stored." if created else "Already received.", content_type="text/plain; charset=utf-8"
    )

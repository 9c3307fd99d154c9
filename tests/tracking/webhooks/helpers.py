"""Builders for the webhook tests: a subscription of an allowed provider, a receiver."""

import pytest

from tests.tracking.api_helpers import MID, allowed_provider, number_for, store_piece
from tests.tracking.webhooks import receiver_urls
from tracking.constants import TrackingEventType
from tracking.models import Subscription
from tracking.webhooks.services import subscription_create

SECRET = receiver_urls.SECRET
LISTENER = "http://127.0.0.1:9/hooks/ok"  # nothing listens on the discard port


def subscribe(
    provider,
    *,
    mid: str | None = MID,
    tracking_number: str | None = None,
    listener_url: str = LISTENER,
    event_types=(TrackingEventType.ALL_UPDATES,),
    secret: str = SECRET,
) -> Subscription:
    return subscription_create(
        provider=provider,
        app=None,
        actor=None,
        mid=None if tracking_number else mid,
        tracking_number=tracking_number,
        event_types=list(event_types),
        listener_url=listener_url,
        secret=secret,
        admin_emails=["ops@example.com"],
    )


@pytest.fixture
def receiver(live_server, settings):
    """live_server answering /hooks/ok (checks X-HMAC), /hooks/fail (500) and
    /hooks/redirect (302); what it received is in `.received`."""
    settings.ROOT_URLCONF = "tests.tracking.webhooks.receiver_urls"
    receiver_urls.RECEIVED.clear()

    class Receiver:
        url = live_server.url.replace("localhost", "127.0.0.1")
        received = receiver_urls.RECEIVED

    yield Receiver
    receiver_urls.RECEIVED.clear()


__all__ = ["MID", "allowed_provider", "number_for", "store_piece", "subscribe"]


def another_provider(*, like, mids: tuple[str, ...]):
    """A second allowed provider under the same agreement version as `like` (a second
    version would put `like` past its re-acceptance deadline)."""
    from accounts.constants import ProviderType
    from agreements.models import Agreement
    from tests.factories import AgreementFactory, MidLinkFactory, ProviderFactory

    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER)
    AgreementFactory(provider=provider, version=Agreement.objects.get(provider=like).version)
    for mid in mids:
        MidLinkFactory(provider=provider, mid=mid)
    return provider

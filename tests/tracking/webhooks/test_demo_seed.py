"""The webhooks' demo seed: a checked, audited, disabled subscription; a re-run changes nothing."""

import pytest

from tests.factories import UserFactory
from tests.tracking.webhooks.helpers import MID, allowed_provider
from tracking.constants import SubscriptionStatus
from tracking.models import Subscription
from tracking.webhooks.secrets import decrypt_secret

pytestmark = pytest.mark.django_db


def test_seed_webhooks_is_idempotent():
    from demo.webhooks_seed import demo_secret, seed_webhooks

    provider = allowed_provider()
    actor = UserFactory()

    first = seed_webhooks(provider=provider, mid=MID, actor=actor)
    second = seed_webhooks(provider=provider, mid=MID, actor=actor)

    subscription = Subscription.objects.get()
    assert first["created"] and not second["created"]
    assert first["subscription_id"] == second["subscription_id"] == str(subscription.public_id)
    assert subscription.status == SubscriptionStatus.DISABLED
    assert len(demo_secret(MID)) == 32
    assert decrypt_secret(subscription.secret_encrypted) == first["secret"]


def test_seed_webhooks_reports_a_refusal():
    from demo.webhooks_seed import seed_webhooks

    entry = seed_webhooks(provider=allowed_provider(), mid="900999999", actor=None)

    assert "denied" in entry["error"]
    assert not Subscription.objects.exists()

"""The portal's webhooks pages: the list with its counts, creating a subscription (a
generated secret shown once, never again), the delivery log with a replay button, enable and
disable, delete; another provider's ids are a 404 on every URL and method."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.constants import MembershipRole
from core.models import AuditEntry
from tests.factories import MembershipFactory
from tests.tracking.webhooks.helpers import (
    MID,
    SECRET,
    allowed_provider,
    another_provider,
    number_for,
    store_piece,
    subscribe,
)
from tracking.constants import DeliveryStatus, SubscriptionStatus
from tracking.models import DeliveryAttempt, Subscription, WebhookDelivery
from tracking.webhooks import tasks
from tracking.webhooks.fanout import fan_out
from tracking.webhooks.secrets import decrypt_secret

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]


def member(provider, role=MembershipRole.OWNER):
    return MembershipFactory(provider=provider, role=role).user


@pytest.fixture
def owner_client(client):
    provider = allowed_provider()
    client.force_login(member(provider))
    client.provider = provider
    return client


@pytest.fixture
def spy_delay(monkeypatch):
    calls: list = []
    monkeypatch.setattr(tasks.deliver, "delay", lambda *a, **k: calls.append((a, k)))
    return calls


def form(**changes):
    data = {
        "mid": MID,
        "tracking_number": "",
        "event_types": ["ALL_UPDATES"],
        "listener_url": "http://127.0.0.1:9/hook",
        "secret": "",
        "admin_emails": "ops@example.com, dev@example.com",
        "submission": "token-1",
    }
    data.update(changes)
    return data


def with_delivery(provider, status=DeliveryStatus.DELIVERED):
    subscription = subscribe(provider)
    piece = store_piece(number_for(MID, 1), mid=MID)
    (delivery_id,) = fan_out(piece_ids=[piece.pk])
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    delivery.status, delivery.attempts = status, 1
    delivery.save()
    DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=200, duration_ms=35)
    return subscription, delivery


def test_the_list_shows_each_subscription_with_its_counts(owner_client):
    subscription, _ = with_delivery(owner_client.provider)
    by_number = subscribe(owner_client.provider, tracking_number=number_for(MID, 9))

    response = owner_client.get(reverse("tracking:webhooks"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"MID {MID}" in html and by_number.tracking_number in html
    assert "1 delivered" in html and "0 failed or blocked" in html
    assert reverse("tracking:webhook", args=[subscription.public_id]) in html
    assert SECRET not in html


def test_creating_with_a_generated_secret_shows_it_once(owner_client):
    response = owner_client.post(reverse("tracking:webhook_create"), form())

    assert response.status_code == 200
    secret = re.search(r'id="webhook-secret"[^>]*value="([^"]+)"', response.content.decode())[1]
    assert len(secret) == 32
    assert "no-store" in response["Cache-Control"]
    subscription = Subscription.objects.get()
    assert decrypt_secret(subscription.secret_encrypted) == secret
    assert subscription.admin_emails == ["ops@example.com", "dev@example.com"]
    assert subscription.created_by is not None
    page = owner_client.get(reverse("tracking:webhook", args=[subscription.public_id]))
    assert secret not in page.content.decode()
    # A second click of the same form creates nothing more.
    again = owner_client.post(reverse("tracking:webhook_create"), form())
    assert again.status_code == 302 and Subscription.objects.count() == 1


def test_creating_with_my_own_secret_never_shows_it(owner_client):
    response = owner_client.post(
        reverse("tracking:webhook_create"), form(secret=SECRET), follow=True
    )

    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    assert decrypt_secret(Subscription.objects.get().secret_encrypted) == SECRET


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mid": "123"}, "not a valid MID"),
        ({"mid": "900999999"}, "denied"),
        ({"listener_url": "http://169.254.169.254/"}, "link-local"),
        ({"secret": "short"}, "exactly 32 characters"),
        ({"admin_emails": "a@x.org, b@x.org, c@x.org, d@x.org"}, "At most 3"),
        ({"mid": "", "tracking_number": ""}, "Give a MID or a tracking number"),
    ],
)
def test_refusals_are_shown_on_the_form(owner_client, changes, message):
    response = owner_client.post(reverse("tracking:webhook_create"), form(**changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Subscription.objects.exists()


def test_the_detail_page_shows_the_delivery_log(owner_client):
    subscription, delivery = with_delivery(owner_client.provider)

    response = owner_client.get(reverse("tracking:webhook", args=[subscription.public_id]))

    html = response.content.decode()
    assert str(delivery.public_id) in html
    assert "HTTP 200" in html and "(35 ms)" in html
    assert (
        reverse("tracking:delivery_replay", args=[subscription.public_id, delivery.public_id])
        in html
    )


def test_replay_from_the_portal(owner_client, spy_delay, django_capture_on_commit_callbacks):
    subscription, delivery = with_delivery(owner_client.provider)
    url = reverse("tracking:delivery_replay", args=[subscription.public_id, delivery.public_id])

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"submission": "once"}, follow=True)

    assert "queued to be sent again" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert len(spy_delay) == 1
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url, {"submission": "once"})  # a second click
    assert len(spy_delay) == 1
    assert spy_delay[0] == ((delivery.pk,), {"requested_by_id": response.wsgi_request.user.pk})


def test_enable_and_disable(owner_client):
    subscription = subscribe(owner_client.provider)
    url = reverse("tracking:webhook_status", args=[subscription.public_id])

    owner_client.post(url, {"status": "DISABLED"})
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.DISABLED
    owner_client.post(url, {"status": "ENABLED"})
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ENABLED


def test_delete(owner_client):
    subscription = subscribe(owner_client.provider)

    response = owner_client.post(reverse("tracking:webhook_delete", args=[subscription.public_id]))

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.deleted_at is not None
    assert (
        owner_client.get(reverse("tracking:webhook", args=[subscription.public_id])).status_code
        == 404
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["webhook", "webhook_status", "webhook_delete", "delivery_replay"])
def test_another_providers_ids_are_404_on_every_url_and_method(owner_client, method, name):
    theirs = another_provider(like=owner_client.provider, mids=("900777888",))
    subscription, delivery = with_delivery(owner_client.provider)
    # The other provider's member looks at our subscription's URLs.
    owner_client.force_login(member(theirs))
    args = [subscription.public_id]
    if name == "delivery_replay":
        args.append(delivery.public_id)

    response = getattr(owner_client, method)(
        reverse(f"tracking:{name}", args=args), {"status": "DISABLED", "submission": "x"}
    )

    assert response.status_code == 404
    before = (subscription.version, subscription.updated_at)
    subscription.refresh_from_db()
    delivery.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ENABLED and subscription.deleted_at is None
    assert (subscription.version, subscription.updated_at) == before
    assert delivery.status == DeliveryStatus.DELIVERED and not delivery.replay_requested
    # No replay was queued or logged, and nothing was audited for the stranger's request.
    assert list(delivery.log.values_list("number", "replay")) == [(1, False)]
    assert not AuditEntry.objects.filter(
        action__in=[
            "webhook_delivery_replay",
            "webhook_subscription_disable",
            "webhook_subscription_delete",
        ]
    ).exists()


def test_a_delivery_of_another_subscription_is_404(owner_client):
    _, delivery = with_delivery(owner_client.provider)
    subscription = subscribe(owner_client.provider)

    response = owner_client.post(
        reverse("tracking:delivery_replay", args=[subscription.public_id, delivery.public_id]),
        {"submission": "x"},
    )

    assert response.status_code == 404


@pytest.mark.parametrize("role", [MembershipRole.BILLING])
def test_roles_without_api_credentials_are_refused(client, role):
    provider = allowed_provider()
    client.force_login(member(provider, role))

    assert client.get(reverse("tracking:webhooks")).status_code == 403
    assert client.get(reverse("tracking:webhook_create")).status_code == 403


def test_the_pages_cost_a_fixed_number_of_queries(owner_client, django_assert_max_num_queries):
    """Several subscriptions, each with several deliveries and attempts: the same few
    queries whatever their number."""
    subscriptions = [subscribe(owner_client.provider) for _ in range(4)]
    pieces = [store_piece(number_for(MID, 20 + n), mid=MID) for n in range(3)]
    fan_out(piece_ids=[piece.pk for piece in pieces])
    for delivery in WebhookDelivery.objects.all():
        DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=503)
        DeliveryAttempt.objects.create(delivery=delivery, number=2, status_code=200)
    WebhookDelivery.objects.update(status=DeliveryStatus.DELIVERED, attempts=2)
    assert WebhookDelivery.objects.count() == 12
    url = reverse("tracking:webhook", args=[subscriptions[0].public_id])
    owner_client.get(url)

    with django_assert_max_num_queries(15):
        listing = owner_client.get(reverse("tracking:webhooks"))
    with django_assert_max_num_queries(15):
        detail = owner_client.get(url)

    assert (listing.status_code, detail.status_code) == (200, 200)
    assert listing.content.decode().count("3 delivered") == 4
    assert detail.content.decode().count('class="attempt"') == 6


def test_counts_cover_the_last_30_days_and_say_so(owner_client):
    subscription, old = with_delivery(owner_client.provider)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    piece = store_piece(number_for(MID, 30), mid=MID)
    fan_out(piece_ids=[piece.pk])

    listing = owner_client.get(reverse("tracking:webhooks")).content.decode()
    detail = owner_client.get(reverse("tracking:webhook", args=[subscription.public_id]))

    assert "Deliveries (last 30 days)" in listing
    assert "0 delivered" in listing and "1 waiting" in listing
    html = detail.content.decode()
    assert "The newest 2 deliveries are shown; 1 were made in the last 30 days." in html
    assert str(old.public_id) in html  # older deliveries are still in the log


def test_the_secret_is_hidden_from_error_reports(owner_client):
    response = owner_client.post(reverse("tracking:webhook_create"), form(secret=SECRET))

    assert response.wsgi_request.sensitive_post_parameters == ("secret",)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("tracking:webhooks"))

    assert response.status_code == 302 and "login" in response["Location"]


def test_a_new_app_can_be_given_the_webhooks_scope(owner_client):
    from tracking.models import ApiApp

    page = owner_client.get(reverse("tracking:apps")).content.decode()
    assert 'value="subscriptions-tracking"' in page

    owner_client.post(
        reverse("tracking:app_create"),
        {"name": "Hooks", "scopes": ["tracking", "subscriptions-tracking"], "submission": "s1"},
    )
    owner_client.post(
        reverse("tracking:app_create"),
        {"name": "Hooks only", "scopes": ["subscriptions-tracking"], "submission": "s2"},
    )
    owner_client.post(
        reverse("tracking:app_create"),
        {"name": "Bad", "scopes": ["everything"], "submission": "s3"},
    )

    assert dict(ApiApp.objects.values_list("name", "scope")) == {
        "Hooks": "tracking subscriptions-tracking",
        "Hooks only": "subscriptions-tracking",
    }
    app = ApiApp.objects.get(name="Hooks")
    rotate = owner_client.get(reverse("tracking:app_rotate", args=[app.pk])).content.decode()
    assert "subscriptions-tracking" in rotate

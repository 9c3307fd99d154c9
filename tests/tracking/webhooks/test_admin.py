"""Admin smoke: changelists, searches and change pages of subscriptions and deliveries load,
are read-only, and never show a secret."""

import pytest
from django.urls import reverse

from tests.tracking.webhooks.helpers import (
    MID,
    SECRET,
    allowed_provider,
    number_for,
    store_piece,
    subscribe,
)
from tracking.models import DeliveryAttempt, WebhookDelivery
from tracking.webhooks.fanout import fan_out

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery():
    subscribe(allowed_provider())
    piece = store_piece(number_for(MID, 1), mid=MID)
    (delivery_id,) = fan_out(piece_ids=[piece.pk])
    found = WebhookDelivery.objects.get(pk=delivery_id)
    DeliveryAttempt.objects.create(
        delivery=found, number=1, status_code=503, duration_ms=12, basis="MID_LINK:4242"
    )
    return found


@pytest.mark.parametrize("search", ["", MID, "not-a-uuid", "Provider"])
def test_changelists_and_searches(admin_client, delivery, search):
    for name in ("subscription", "webhookdelivery"):
        response = admin_client.get(reverse(f"admin:tracking_{name}_changelist"), {"q": search})
        assert response.status_code == 200, name


def test_change_pages_show_no_secret_and_no_save(admin_client, delivery):
    subscription = delivery.subscription

    page = admin_client.get(reverse("admin:tracking_subscription_change", args=[subscription.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert SECRET not in html and subscription.secret_encrypted not in html
    assert str(delivery.public_id) in html
    assert 'name="_save"' not in html

    log = admin_client.get(reverse("admin:tracking_webhookdelivery_change", args=[delivery.pk]))
    assert log.status_code == 200
    assert "503" in log.content.decode()
    assert "MID_LINK:4242" in log.content.decode()  # the disclosure record of the attempt


def test_nothing_can_be_added(admin_client):
    assert admin_client.get(reverse("admin:tracking_subscription_add")).status_code == 403


@pytest.mark.parametrize(
    ("group", "expected"),
    [("Agreement reviewers", 200), ("Support", 200), ("Finance", 403), (None, 403)],
)
def test_staff_groups_read_subscriptions_and_deliveries(staff_groups, delivery, group, expected):
    from django.contrib.auth.models import Group
    from django.test import Client

    from tests.factories import UserFactory
    from tests.otp import otp_login

    user = UserFactory(is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client = otp_login(Client(), user)

    pages = [
        reverse("admin:tracking_subscription_change", args=[delivery.subscription.pk]),
        reverse("admin:tracking_webhookdelivery_change", args=[delivery.pk]),
    ]

    assert [client.get(page).status_code for page in pages] == [expected, expected]

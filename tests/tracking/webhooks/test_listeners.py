"""SSRF: listener URLs are refused at create, at update and again at delivery time, with the
production rules (https required, no loopback). Names are resolved for real (localhost)."""

import pytest
from django.test import override_settings
from django.utils import timezone

from core.errors import DomainError
from tests.tracking.webhooks.helpers import (
    MID,
    allowed_provider,
    number_for,
    store_piece,
    subscribe,
)
from tracking.constants import DeliveryStatus
from tracking.models import Subscription, WebhookDelivery
from tracking.webhooks import listeners
from tracking.webhooks.delivery import Outcome, deliver
from tracking.webhooks.fanout import fan_out
from tracking.webhooks.services import subscription_update

PRODUCTION = {"WEBHOOK_REQUIRE_HTTPS": True, "WEBHOOK_ALLOW_LOOPBACK": False}

REFUSED = [
    ("http://93.184.216.34/hook", "must use https"),
    ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
    ("https://192.168.0.10/hook", "private address"),
    ("https://172.16.5.4/hook", "private address"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
    ("https://[::1]/hook", "::1 is a loopback address"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[fd00::1]/hook", "private address"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://100.64.0.1/hook", "non-public"),
    ("https://localhost/hook", "its host localhost resolves to an address that is not public."),
    ("https://[fec0::1]/hook", "fec0::1 is a site-local address"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback address (as an IPv6 form of 127.0.0.1)"),
    ("https://[::ffff:10.0.0.1]/hook", "private address (as an IPv6 form of 10.0.0.1)"),
    ("https://[::ffff:169.254.169.254]/hook", "link-local address (as an IPv6 form"),
    ("https://[2002:a00:1::]/hook", "private address (as an IPv6 form of 10.0.0.1)"),
    ("https://user:pw@93.184.216.34/hook", "must not contain a user name or password"),
    ("ftp://93.184.216.34/hook", "must start with https://"),
    ("https://93.184.216.34/" + "a" * 200, "at most 200 characters"),
    ("https:///hook", "has no host name"),
    ("https://93.184.216.34:99999/hook", "not a valid URL"),
    ("https://no-such-host.invalid/hook", "its host no-such-host.invalid cannot be resolved."),
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_refused_listener_urls(url, message):
    with override_settings(**PRODUCTION), pytest.raises(DomainError) as refused:
        listeners.check_url(url)

    assert message in refused.value.message
    assert refused.value.field_errors == {"listener_url": [refused.value.message]}


@override_settings(**PRODUCTION)
def test_a_public_address_passes():
    listener = listeners.check_url("https://93.184.216.34:8443/hook?x=1")

    assert listener.addresses == ("93.184.216.34",)
    assert (listener.port, listener.target) == (8443, "/hook?x=1")
    assert listener.host_header == "93.184.216.34:8443"


def test_loopback_is_allowed_only_by_the_setting():
    assert listeners.check_url("http://localhost:8000/x").addresses == ("127.0.0.1",)
    with override_settings(WEBHOOK_ALLOW_LOOPBACK=False), pytest.raises(DomainError):
        listeners.check_url("http://localhost:8000/x")
    # The setting opens loopback only, never the rest.
    with pytest.raises(DomainError, match="private"):
        listeners.check_url("http://10.0.0.1/x")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://[::ffff:127.0.0.1]/hook",
    ],
)
def test_create_and_update_refuse_them(url):
    provider = allowed_provider()
    with override_settings(**PRODUCTION):
        with pytest.raises(DomainError):
            subscribe(provider, listener_url=url)
        assert not Subscription.objects.exists()
    subscription = subscribe(provider, listener_url="http://127.0.0.1:9/ok")
    with override_settings(**PRODUCTION), pytest.raises(DomainError):
        subscription_update(subscription=subscription, actor=None, listener_url=url)
    subscription.refresh_from_db()
    assert subscription.listener_url == "http://127.0.0.1:9/ok"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("url", "settings_now"),
    [
        ("{live}/hooks/ok", {"WEBHOOK_ALLOW_LOOPBACK": False}),
        ("{live}/hooks/ok", {"WEBHOOK_REQUIRE_HTTPS": True}),
        ("{live_by_name}/hooks/ok", {"WEBHOOK_ALLOW_LOOPBACK": False}),
    ],
)
def test_delivery_checks_the_url_again(receiver, live_server, url, settings_now):
    """A URL allowed when it was saved (the rules, or what its name resolved to, changed) is
    checked again before each POST: refused, nothing is sent, the attempt says why."""
    provider = allowed_provider()
    listener_url = url.format(live=receiver.url, live_by_name=live_server.url)
    subscription = subscribe(provider, listener_url=listener_url)
    piece = store_piece(number_for(MID, 5), mid=MID)
    (delivery_id,) = fan_out(piece_ids=[piece.pk])

    with override_settings(**settings_now):
        outcome = deliver(delivery_id=delivery_id, now=timezone.now())

    assert outcome == Outcome.RETRYING
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.RETRYING
    attempt = delivery.log.get()
    assert attempt.status_code is None
    assert any(
        why in attempt.error for why in ("loopback", "https", "an address that is not public")
    )
    assert subscription.deliveries.count() == 1


@override_settings(**PRODUCTION)
def test_refusals_of_a_name_do_not_reveal_what_it_resolves_to(caplog):
    """An internal name's address (or the resolver's error) would map our internal DNS for
    whoever asks: the answer is generic, the details are in the server log only."""
    caplog.set_level("INFO", logger="tracking.webhooks.listeners")

    with pytest.raises(DomainError) as private:
        listeners.check_url("https://localhost/hook")
    with pytest.raises(DomainError) as unknown:
        listeners.check_url("https://no-such-host.invalid/hook")

    assert private.value.message == (
        "The listener URL is refused: its host localhost resolves to an address that is not public."
    )
    assert unknown.value.message == (
        "The listener URL is refused: its host no-such-host.invalid cannot be resolved."
    )
    for message in (private.value.message, unknown.value.message):
        assert "127.0.0.1" not in message and "loopback" not in message
        assert "Errno" not in message and "Name or service" not in message
    logged = caplog.text
    assert "localhost refused: resolves to 127.0.0.1, a loopback address" in logged
    assert "no-such-host.invalid cannot be resolved:" in logged


@override_settings(**PRODUCTION)
def test_a_name_resolving_to_a_site_local_ipv6_address_is_refused():
    with pytest.raises(DomainError, match="not public"):
        listeners.check_addresses("hooks.example.com", ["fec0::2", "93.184.216.34"])
    with pytest.raises(DomainError, match="site-local"):
        listeners.check_addresses("fec0::2", ["fec0::2"])
    assert listeners.check_addresses("hooks.example.com", ["93.184.216.34"]) == ("93.184.216.34",)

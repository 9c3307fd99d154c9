"""axe-core on the main pages: no serious or critical accessibility violation."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.constants import ProviderType
from tests.browser.conftest import serious_accessibility_violations
from tests.factories import AgreementFactory, MembershipFactory, MidLinkFactory, ProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_PAGES = ["home", "account_login", "account_signup", "account_reset_password"]
PORTAL_PAGES = [
    "agreements:dashboard",
    "accounts:organisation",
    "accounts:organisation_create",
    "accounts:team",
    "agreements:agreement",
    "agreements:mids",
    "agreements:consents",
    "tracking:apps",
]


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_have_no_serious_violations(live_server, page, name):
    page.goto(live_server.url + reverse(name))

    assert serious_accessibility_violations(page) == []


def test_portal_pages_have_no_serious_violations(live_server, page, client):
    membership = MembershipFactory(provider=ProviderFactory())
    AgreementFactory(provider=membership.provider)
    MidLinkFactory(provider=membership.provider)
    client.force_login(membership.user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    found = {}
    for name in PORTAL_PAGES:
        page.goto(live_server.url + reverse(name))
        found[name] = serious_accessibility_violations(page)

    assert {name: v for name, v in found.items() if v} == {}


def test_portal_pages_fit_a_phone_screen(live_server, page, client, shot):
    membership = MembershipFactory(provider=ProviderFactory())
    AgreementFactory(provider=membership.provider)
    MidLinkFactory(provider=membership.provider)
    client.force_login(membership.user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.set_viewport_size({"width": 375, "height": 800})
    overflowing = {}
    for name in PORTAL_PAGES:
        page.goto(live_server.url + reverse(name))
        shot(name.replace(":", "-"))
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > 375:
            overflowing[name] = width

    assert overflowing == {}


def test_a_suspended_owners_pages_and_the_grant_confirmation_have_no_serious_violations(
    live_server, page, client, shot
):
    """The standing notice (suspended: why, and what still works) on the Mailer IDs, consents
    and team pages, and the confirmation step of a grant, at desktop and phone width."""
    membership = MembershipFactory(provider=ProviderFactory(provider_type=ProviderType.SHIPPER))
    shipper = membership.provider
    MidLinkFactory(provider=shipper, mid="901234567")
    ProviderFactory(legal_name="Parcel Insights LLC", crid="31415926")
    services.provider_suspend(
        provider=shipper, actor=None, reason="Records under audit", cause="STAFF_ACTION"
    )
    client.force_login(membership.user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    found, overflowing = {}, {}
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        for name in ("agreements:mids", "agreements:consents", "accounts:team", "confirm"):
            if name == "confirm":
                page.goto(live_server.url + reverse("agreements:consents"))
                page.get_by_label("Provider's CRID or exact legal name").fill("31415926")
                page.get_by_role("button", name="Grant access").click()
                page.get_by_role("heading", name="Confirm the grant").wait_for()
            else:
                page.goto(live_server.url + reverse(name))
                assert "Records under audit" in page.content()
            shot(f"{name.replace(':', '-')}-{width}")
            found[(name, width)] = serious_accessibility_violations(page)
            if page.evaluate("() => document.documentElement.scrollWidth") > width:
                overflowing[(name, width)] = True

    assert {key: v for key, v in found.items() if v} == {}
    assert overflowing == {}

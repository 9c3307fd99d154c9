"""axe-core on the main pages: no serious or critical accessibility violation."""

import pytest
from django.urls import reverse

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

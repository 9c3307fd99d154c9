"""axe-core on the main pages: no serious or critical accessibility violation."""

import pytest
from django.urls import reverse

from tests.browser.conftest import serious_accessibility_violations
from tests.factories import AgreementFactory, MembershipFactory, MidLinkFactory, ProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_PAGES = ["home", "account_login", "account_signup", "account_reset_password"]


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
    pages = [
        "agreements:dashboard",
        "accounts:organisation",
        "accounts:organisation_create",
        "accounts:team",
        "agreements:agreement",
        "agreements:mids",
        "agreements:consents",
    ]
    found = {}
    for name in pages:
        page.goto(live_server.url + reverse(name))
        found[name] = serious_accessibility_violations(page)

    assert {name: v for name, v in found.items() if v} == {}

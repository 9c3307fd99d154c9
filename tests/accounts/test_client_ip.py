"""The client's address behind zero or more trusted proxies (rate limits and signatures)."""

import pytest
from django.test import RequestFactory

from accounts.portal import client_ip


@pytest.mark.parametrize(
    ("proxies", "headers", "expected"),
    [
        (0, {"REMOTE_ADDR": "203.0.113.7", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "203.0.113.7"),
        (
            1,
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.1"},
            "198.51.100.1",
        ),
        (1, {"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.2"),
        (2, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "not-an-ip"}, None),
        (0, {"REMOTE_ADDR": ""}, None),
    ],
    ids=[
        "no proxy ignores XFF",
        "one proxy",
        "one proxy, no XFF",
        "too few entries",
        "junk",
        "none",
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings, proxies, headers, expected
):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", **headers)

    assert client_ip(request) == expected

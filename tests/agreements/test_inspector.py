"""The access inspector at /admin/inspector/: the decision the tracking API would give, with its
reasons and basis, for staff allowed to see MID links; bad input is a form error, never a 500."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.constants import ProviderStatus, ProviderType
from agreements import decision as decision_module
from agreements.admin import inspector
from agreements.constants import MidLinkStatus, ReasonCode
from core.tracking_numbers import make_impb
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    UserFactory,
)
from tests.otp import otp_login

pytestmark = pytest.mark.django_db

MID = "901234567"
NUMBER = make_impb(mid=MID, service_type_code="001", serial="1234567")
AMBIGUOUS = "4202026093009312345123456789012340"  # ZIP5 + PIC of 312345, or ZIP9 + PIC of 451234


def url() -> str:
    return reverse("access_inspector")


@pytest.fixture
def provider():
    """An active service provider with a current agreement and MID 901234567 owned."""
    provider = ProviderFactory(
        legal_name="Parcel Insights LLC",
        crid="48151623",
        provider_type=ProviderType.SERVICE_PROVIDER,
    )
    AgreementFactory(provider=provider, version=AgreementVersionFactory())
    return provider


@pytest.fixture
def link(provider):
    return MidLinkFactory(provider=provider, mid=MID)


def staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    for codename in codenames:
        app_label = "accounts" if codename.endswith("provider") else "agreements"
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


# --- The decision shown ------------------------------------------------------------------------


def test_an_allowed_mid_shows_its_basis_linked_to_its_admin_page(admin_client, provider, link):
    response = admin_client.get(url(), {"provider": provider.pk, "mid": MID})

    assert response.status_code == 200
    decision = response.context["decision"]
    assert decision.allowed
    assert decision.basis.pk == link.pk
    body = response.text
    assert '<strong id="inspector-answer">ALLOWED</strong>' in body
    assert f'href="{reverse("admin:agreements_midlink_change", args=[link.pk])}"' in body
    assert f"MID_LINK #{link.pk} (MID {MID}, OWNED)" in body
    assert f'href="{reverse("admin:accounts_provider_change", args=[provider.pk])}"' in body
    assert "inspector-bad-request" not in body


def test_a_tracking_number_is_decided_on_its_mid(admin_client, provider, link):
    response = admin_client.get(url(), {"provider": provider.pk, "tracking_number": NUMBER})

    decision = response.context["decision"]
    assert decision.allowed
    assert decision.mid == MID
    assert response.context["asked_kind"] == "tracking number"


def test_a_schedule_line_basis_links_to_the_schedule_line(admin_client):
    line = ScheduleLineFactory(mid="712345")
    provider = line.agreement.provider

    response = admin_client.get(url(), {"provider": provider.pk, "mid": "712345"})

    assert response.context["decision"].allowed
    target = reverse("admin:agreements_agreementscheduleline_change", args=[line.pk])
    assert f'href="{target}"' in response.text


def test_a_denial_lists_every_reason_with_its_code(admin_client, provider):
    provider.status = ProviderStatus.PENDING_REVIEW
    provider.save(update_fields=["status"])

    response = admin_client.get(url(), {"provider": provider.pk, "mid": MID})

    decision = response.context["decision"]
    assert not decision.allowed
    assert decision.reason_codes == [ReasonCode.PROVIDER_NOT_ACTIVE, ReasonCode.MID_NOT_AUTHORIZED]
    body = response.text
    assert '<strong id="inspector-answer">DENIED</strong>' in body
    assert "<code>PROVIDER_NOT_ACTIVE</code>: The provider account is not active." in body
    assert "<code>MID_NOT_AUTHORIZED</code>" in body
    assert "none: nothing grants access" in body


def test_a_link_outside_its_window_is_explained(admin_client, provider):
    now = timezone.now()
    MidLinkFactory(
        provider=provider,
        mid=MID,
        status=MidLinkStatus.VERIFIED,
        valid_from=now - timedelta(days=60),
        valid_until=now - timedelta(days=30),
    )

    response = admin_client.get(url(), {"provider": provider.pk, "mid": MID})

    assert response.context["decision"].reason_codes == [ReasonCode.MID_LINK_NOT_IN_WINDOW]


def test_an_ambiguous_barcode_is_shown_as_a_bad_request(admin_client, provider, link):
    response = admin_client.get(url(), {"provider": provider.pk, "tracking_number": AMBIGUOUS})

    decision = response.context["decision"]
    assert decision.reason_codes == [ReasonCode.AMBIGUOUS_TRACKING_NUMBER]
    assert decision.is_bad_request
    assert 'id="inspector-bad-request"' in response.text
    assert "without the 420 + ZIP routing prefix" in response.text


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        (
            "tracking_number",
            NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10),
            "INVALID_TRACKING_NUMBER",
        ),
        ("tracking_number", "12345", "INVALID_TRACKING_NUMBER"),
        ("mid", "12345", "INVALID_MID"),
        ("mid", "912345", "INVALID_MID"),
    ],
)
def test_a_number_the_api_refuses_is_shown_as_a_bad_request(
    admin_client, provider, field, value, code
):
    response = admin_client.get(url(), {"provider": provider.pk, field: value})

    decision = response.context["decision"]
    assert decision.reason_codes == [code]
    assert decision.is_bad_request
    assert 'id="inspector-bad-request"' in response.text


def test_a_number_without_a_shipper_mid_is_denied_not_a_bad_request(admin_client, provider):
    response = admin_client.get(
        url(), {"provider": provider.pk, "tracking_number": "EC123456785US"}
    )

    decision = response.context["decision"]
    assert decision.reason_codes == [ReasonCode.NO_MID_IN_TRACKING_NUMBER]
    assert not decision.is_bad_request


def test_it_asks_the_functions_the_api_asks(admin_client, provider, link, monkeypatch):
    assert (inspector.decide, inspector.decide_for_number) == (
        decision_module.decide,
        decision_module.decide_for_number,
    )
    calls = []

    def spy(real):
        def wrapper(**kwargs):
            calls.append((real.__name__, kwargs))
            return real(**kwargs)

        return wrapper

    monkeypatch.setattr(inspector, "decide", spy(inspector.decide))
    monkeypatch.setattr(inspector, "decide_for_number", spy(inspector.decide_for_number))

    admin_client.get(url(), {"provider": provider.pk, "mid": MID})
    admin_client.get(url(), {"provider": provider.pk, "tracking_number": NUMBER})

    assert calls == [
        ("decide", {"provider": provider, "mid": MID}),
        ("decide_for_number", {"provider": provider, "tracking_number": NUMBER}),
    ]


def test_a_second_look_is_served_from_the_cache_and_says_so(admin_client, provider, link):
    first = admin_client.get(url(), {"provider": provider.pk, "mid": MID})
    second = admin_client.get(url(), {"provider": provider.pk, "mid": MID})

    assert first.context["decision"].from_cache is False
    assert second.context["decision"].from_cache is True
    assert "(served from the cache)" in second.text
    assert second.context["decision"].computed_at == first.context["decision"].computed_at


def test_the_page_without_a_question_shows_only_the_form(admin_client):
    response = admin_client.get(url())

    assert response.status_code == 200
    assert not response.context["form"].is_bound
    assert "decision" not in response.context
    assert 'data-model-name="midlink"' in response.text  # the provider autocomplete
    assert "admin/js/autocomplete.js" in response.text


def test_a_chosen_provider_stays_selected(admin_client, provider):
    response = admin_client.get(url(), {"provider": provider.pk, "mid": "not a mid"})

    assert f'<option value="{provider.pk}" selected>Parcel Insights LLC</option>' in response.text


# --- Bad input: form errors, never a 500 -------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mid": MID}, "provider"),
        ({"provider": "", "mid": MID}, "provider"),
        ({"provider": "999999999", "mid": MID}, "provider"),
        ({"provider": "abc", "mid": MID}, "provider"),
        ({"provider": "-1", "mid": MID}, "provider"),
        ({"provider": "1.5", "mid": MID}, "provider"),
        ({"provider": "99999999999999999999999", "mid": MID}, "provider"),
        ({"provider": "<script>", "mid": MID}, "provider"),
        (
            {"provider": "PROVIDER", "tracking_number": "<script>alert(1)</script>"},
            "tracking_number",
        ),
        ({"provider": "PROVIDER", "tracking_number": "9400 1000 ☃"}, "tracking_number"),
        ({"provider": "PROVIDER", "tracking_number": "1" * 65}, "tracking_number"),
        ({"provider": "PROVIDER", "tracking_number": "'; DROP TABLE x;--"}, "tracking_number"),
        ({"provider": "PROVIDER", "mid": "90123456a"}, "mid"),
        ({"provider": "PROVIDER", "mid": "٩٠١٢٣٤٥٦٧"}, "mid"),  # Arabic-Indic digits
        ({"provider": "PROVIDER", "mid": "9" * 21}, "mid"),
        ({"provider": "PROVIDER", "mid": MID, "tracking_number": NUMBER}, "__all__"),
        ({"provider": "PROVIDER"}, "__all__"),
        ({"provider": "PROVIDER", "mid": "", "tracking_number": "  "}, "__all__"),
    ],
)
def test_bad_input_is_a_form_error(admin_client, provider, params, field):
    params = {
        key: str(provider.pk) if value == "PROVIDER" else value for key, value in params.items()
    }

    response = admin_client.get(url(), params)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert "decision" not in response.context
    assert "<script>alert" not in response.text


def test_repeated_parameters_and_nul_are_not_500s(provider):
    client = otp_login(
        Client(raise_request_exception=False), UserFactory(is_staff=True, is_superuser=True)
    )

    repeated = client.get(f"{url()}?provider={provider.pk}&provider=abc&mid={MID}&mid=1")
    nul = client.get(url(), {"provider": provider.pk, "mid": "9012\x0034567"})

    assert repeated.status_code == 200
    assert nul.status_code == 400


# --- Who may use it ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_signed_in_non_staff_are_sent_to_the_admin_login(client):
    client.force_login(UserFactory())

    response = client.get(url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_a_verified_second_factor_are_sent_to_the_admin_login(client):
    client.force_login(staff_with("view_midlink"))  # the password only

    response = client.get(url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_view_midlink_permission_get_403(provider):
    client = otp_login(Client(), staff_with("view_provider"))

    assert client.get(url()).status_code == 403
    assert client.get(url(), {"provider": provider.pk, "mid": MID}).status_code == 403


def test_staff_who_may_see_mid_links_use_it(provider, link):
    client = otp_login(Client(), staff_with("view_midlink"))

    response = client.get(url(), {"provider": provider.pk, "mid": MID})

    assert response.status_code == 200
    assert response.context["decision"].allowed
    # Links only to the pages this user may open: the MID link, not the provider.
    assert reverse("admin:agreements_midlink_change", args=[link.pk]) in response.text
    assert reverse("admin:accounts_provider_change", args=[provider.pk]) not in response.text

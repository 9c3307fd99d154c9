import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, list]:
    """Every row of every project model, so 'changes nothing' can be asserted exactly."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label in {"accounts", "agreements", "tracking", "billing"}:
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


def run_seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_twice_changes_nothing_the_second_time():
    first = json.loads(run_seed("--json"))
    after_first = snapshot()

    second = json.loads(run_seed("--json"))

    assert snapshot() == after_first
    assert all(user["created"] for user in first["users"])
    assert not any(user["created"] for user in second["users"])


def test_seed_demo_creates_a_superuser_that_can_log_in(client, settings):
    output = run_seed()

    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff
    assert settings.DEMO_PASSWORD in output
    assert client.login(email="admin@example.com", password=settings.DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_seed_demo_refuses_under_production_settings(settings):
    settings.DEMO_DATA_ALLOWED = False

    with pytest.raises(CommandError, match="disabled"):
        run_seed()

    assert not User.objects.exists()

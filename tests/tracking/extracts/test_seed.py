"""demo/extracts_seed.py: a built extract per provider, approved first when the provider's
type needs it, and nothing new on a second run."""

import pytest

from demo.extracts_seed import seed_extracts
from tests.factories import StaffFactory
from tests.tracking.extracts.helpers import MID, allowed_provider, member, recent, store
from tracking.models import Extract

pytestmark = pytest.mark.django_db


def test_the_seed_builds_an_approved_extract_once():
    provider = allowed_provider()  # needs approval
    store(MID, 2, events=2)
    arguments = {
        "provider": provider,
        "actor": member(provider),
        "mids": [MID],
        "reviewer": StaffFactory(),
        "start": recent(),
        "days": 1,
    }

    first = seed_extracts(**arguments)
    second = seed_extracts(**arguments)

    assert first["created"] and first["status"] == "READY" and first["rows"] == 4
    assert not second["created"] and second["extract_id"] == first["extract_id"]
    assert Extract.objects.count() == 1

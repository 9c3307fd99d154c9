"""PreparedQuery: compiled once with sentinels, run with real values, same rows as the ORM."""

from datetime import UTC, datetime

import pytest
from django.db.models import Value

from accounts.models import Provider
from core.prepared import PreparedQuery
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def _providers(*, provider_id: int, city: str):
    return (
        Provider.objects.filter(pk__gte=provider_id, city=city).order_by("pk").values("pk", "city")
    )


def test_rows_match_what_the_orm_returns_for_each_set_of_values():
    first, second = ProviderFactory(city="Washington"), ProviderFactory(city="Chicago")
    prepared = PreparedQuery(_providers, provider_id=int, city=str)

    for provider_id, city in [
        (first.pk, "Washington"),
        (first.pk, "Chicago"),
        (second.pk, "Nowhere"),
    ]:
        expected = list(_providers(provider_id=provider_id, city=city))
        assert prepared.rows(provider_id=provider_id, city=city) == expected


def test_the_sql_is_built_once(django_assert_num_queries, monkeypatch):
    provider = ProviderFactory()
    prepared = PreparedQuery(_providers, provider_id=int, city=str)
    prepared.rows(provider_id=provider.pk, city=provider.city)
    builds = []
    monkeypatch.setattr(prepared, "_build", lambda **kw: builds.append(kw))

    with django_assert_num_queries(1):
        assert prepared.rows(provider_id=provider.pk, city=provider.city)
    assert builds == []


def test_a_parameter_that_is_not_a_placeholder_is_refused():
    def folds_the_value_into_python(*, provider_id: int, at: datetime):
        # The sentinel never reaches the SQL as a parameter: running it would ignore `at`.
        return Provider.objects.filter(pk=provider_id).annotate(x=Value(1)).values("pk")

    prepared = PreparedQuery(folds_the_value_into_python, provider_id=int, at=datetime)

    with pytest.raises(ValueError, match="at"):
        prepared.rows(provider_id=1, at=datetime.now(tz=UTC))


def test_two_parameters_of_one_type_are_refused():
    with pytest.raises(TypeError, match="at most one parameter of each type"):
        PreparedQuery(_providers, provider_id=int, other_id=int)

import pytest

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db

UNREACHABLE = "redis://127.0.0.1:1/0"  # port 1: nothing listens, the connect fails at once


def test_healthz_is_200_when_everything_is_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert body["checks"] == {
        "database": {"ok": True},
        "redis": {"ok": True},
        "broker": {"ok": True},
    }


def test_healthz_is_503_with_json_naming_redis_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = UNREACHABLE

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["redis"]
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"] == {"ok": True}


def test_healthz_names_the_broker_when_it_is_unreachable(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", UNREACHABLE)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


def test_home_page_links_to_the_admin(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b'href="/admin/"' in response.content

"""/api/health/ against the real database, the real broker and a real worker."""

import pytest

pytestmark = pytest.mark.django_db

HEALTH_URL = "/api/health/"


def test_all_parts_up_answers_200_with_coarse_status_only(client, celery_worker):
    response = client.get(HEALTH_URL)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "workers": "ok"},
    }
    assert response["Cache-Control"] == "no-store"


def test_staff_also_see_which_workers_answered(admin_client, celery_worker):
    detail = admin_client.get(HEALTH_URL).json()["detail"]

    assert celery_worker.name in detail["workers"]
    assert detail["database"] == "postgresql"
    assert detail["broker"] == "redis"


def test_broker_down_answers_503(client, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", "redis://127.0.0.1:9/0")  # nothing listens on port 9

    response = client.get(HEALTH_URL)

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "fail", "workers": "fail"},
    }

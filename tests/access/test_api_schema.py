"""The OpenAPI schema and its docs pages exist, and need a login like everything else."""

from django.contrib.auth import get_user_model


def test_schema_needs_a_login(client_for):
    assert client_for("anonymous").get("/api/schema/").status_code == 401

    response = client_for("viewer").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/people/",
        "/api/people/{person_pk}/samples/",
        "/api/samples/{id}/image/",
        "/api/alerts/{id}/acknowledge/",
        "/api/cameras/{id}/frames/",
        "/api/audit-log/",
    ]:
        assert path in paths


def test_docs_pages_send_browsers_to_the_login_page(client, db):
    for page in ["/api/docs/", "/api/docs/redoc/"]:
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    client.force_login(get_user_model().objects.create_user("reader", password="unused-pw-123"))
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()

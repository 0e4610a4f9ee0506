import pytest


@pytest.mark.django_db
def test_dashboard_renders_for_admin(client_for):
    response = client_for("isms_admin").get("/")
    assert response.status_code == 200
    assert b"Audit trail, last 24 hours" in response.content

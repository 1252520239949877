"""A camera's detection region and rescan interval through the API: shown, stored, and refused when the
region does not lie within the frame (nothing stored)."""

import pytest

from access.cameras.models import Camera


def test_a_camera_looks_at_the_whole_frame_and_rescans_every_half_second_by_default(client_for, camera):
    body = client_for("admin").get(f"/api/cameras/{camera.pk}/").json()

    region = [body[edge] for edge in ("region_left", "region_top", "region_right", "region_bottom")]
    assert region == [0.0, 0.0, 1.0, 1.0]
    assert body["rescan_interval_ms"] == 500


def test_the_installer_sets_the_door_approach_as_the_region(client_for, camera):
    changes = {"region_left": 0.25, "region_top": 0.1, "region_right": 0.75, "region_bottom": 1.0,
               "rescan_interval_ms": 300}  # fmt: skip

    response = client_for("admin").patch(f"/api/cameras/{camera.pk}/", changes, format="json")

    assert response.status_code == 200, response.content
    camera.refresh_from_db()
    assert camera.detection_region == (0.25, 0.1, 0.75, 1.0)
    assert camera.rescan_interval_ms == 300


@pytest.mark.parametrize(
    "changes",
    [
        {"region_left": 0.8, "region_right": 0.2},  # left of its right edge
        {"region_top": 0.5, "region_bottom": 0.5},  # an empty region
        {"region_left": -0.1},
        {"region_bottom": 1.5},
        {"rescan_interval_ms": -1},
    ],
)
def test_a_region_outside_the_frame_is_refused_and_nothing_is_stored(client_for, camera, changes):
    response = client_for("admin").patch(f"/api/cameras/{camera.pk}/", changes, format="json")

    assert response.status_code == 400
    assert set(response.json()) & {*changes, "non_field_errors"}, response.json()
    stored = Camera.objects.get(pk=camera.pk)
    assert (stored.detection_region, stored.rescan_interval_ms) == ((0.0, 0.0, 1.0, 1.0), 500)


def test_an_operator_cannot_change_the_region(client_for, camera):
    response = client_for("operator").patch(f"/api/cameras/{camera.pk}/", {"region_left": 0.5}, format="json")

    assert response.status_code == 403
    assert Camera.objects.get(pk=camera.pk).region_left == 0.0

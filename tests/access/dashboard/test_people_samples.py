"""A sample's card and images on the person page: its state, the quality verdict with the reason, and what the
pipeline saw, drawn from what enrollment stored (real photos, enrolled by the task's body in this process)."""

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image, JpegImagePlugin

from access.core.images import decode_image, rgb_pixels
from access.people import services
from access.people.models import FaceSample
from access.people.overlay import png, read_overlay, render_overlay
from recognition import tasks
from tests.access.conftest import FACEDATA, IDENTITIES, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("worker_gallery")]  # a fresh worker each

SCENES = FACEDATA / "scenes"
PHOTO = IDENTITIES / "Kit_Harington" / "3.jpg"



@pytest.fixture
def operator(client):
    client.force_login(make_user("operator"))
    return client


def enrolled(person, photo: Path) -> FaceSample:
    sample = services.add_sample(person, decode_image(photo.read_bytes()))
    tasks.enroll_sample(sample.pk)
    return FaceSample.objects.get(pk=sample.pk)


def image_of(response, content_type: str) -> Image.Image:
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Cache-Control"] == "private, no-store"
    return Image.open(BytesIO(response.content))


def test_an_enrolled_sample_shows_its_verdict_and_what_the_pipeline_saw(operator, person):
    sample = enrolled(person, PHOTO)

    page = operator.get(reverse("dashboard:person", args=[person.pk])).content.decode()
    card = operator.get(reverse("dashboard:sample-card", args=[sample.pk])).content.decode()

    for html in (page, card):
        assert f'id="sample-{sample.pk}"' in html and 'data-state="enrolled"' in html
        assert "Accepted: one clear, frontal, uncovered face." in html
        assert reverse("dashboard:sample-overlay", args=[sample.pk]) in html
        assert reverse("dashboard:sample-chip", args=[sample.pk, 0]) in html
        assert reverse("dashboard:sample-chip", args=[sample.pk, 1]) not in html
    face_size = sample.quality["face_size"]
    assert f"<th>Face size</th><td>{face_size:.0f} px</td>" in card
    assert 'class="fail"' not in card
    assert "skin" in page and "hair" in page, "the parsing legend"

    served = operator.get(reverse("dashboard:sample-overlay", args=[sample.pk]))
    overlay = image_of(served, "image/jpeg")
    assert overlay.width >= 480
    chip = image_of(operator.get(reverse("dashboard:sample-chip", args=[sample.pk, 0])), "image/png")
    [stored] = read_overlay(sample.overlay.read())
    np.testing.assert_array_equal(np.asarray(chip.convert("RGB")), stored.chip)
    assert operator.get(reverse("dashboard:sample-chip", args=[sample.pk, 1])).status_code == 404


def test_a_rejected_group_photo_shows_the_reason_and_every_face(operator, person):
    sample = enrolled(person, SCENES / "group_3ddfa_trump_hillary.jpg")

    card = operator.get(reverse("dashboard:sample-card", args=[sample.pk])).content.decode()

    assert 'data-state="rejected"' in card
    assert '<p class="verdict rejected">2 faces found; enrollment photos must show one person.</p>' in card
    assert '<tr class="fail"><th>Faces found</th><td>2</td><td class="limit">exactly 1</td></tr>' in card
    for face in (0, 1):
        assert reverse("dashboard:sample-chip", args=[sample.pk, face]) in card
    overlay = operator.get(reverse("dashboard:sample-overlay", args=[sample.pk]))
    assert image_of(overlay, "image/jpeg").width >= 480


def test_the_drawing_is_served_as_a_light_jpeg_that_keeps_its_lines(operator, person):
    sample = enrolled(person, PHOTO)
    with sample.image.open() as photo:
        drawn = render_overlay(rgb_pixels(photo.read()), read_overlay(sample.overlay.read()))

    served = operator.get(reverse("dashboard:sample-overlay", args=[sample.pk])).content

    jpeg = Image.open(BytesIO(served))
    assert JpegImagePlugin.get_sampling(jpeg) == 0, "colour at full resolution (4:4:4), as thin lines need"
    error = np.abs(np.asarray(jpeg.convert("RGB"), dtype=float) - drawn).mean()
    assert error < 2.5, f"the JPEG is {error:.2f} levels off the drawing on average"
    assert len(served) * 3 < len(png(drawn)), f"{len(served)} bytes: not much lighter than the lossless PNG"


def test_a_photo_without_a_face_has_no_overlay(operator, person):
    sample = enrolled(person, SCENES / "noface_skimage_chelsea.png")

    card = operator.get(reverse("dashboard:sample-card", args=[sample.pk])).content.decode()

    assert '<p class="verdict rejected">No face found.</p>' in card
    assert reverse("dashboard:sample-overlay", args=[sample.pk]) not in card
    assert operator.get(reverse("dashboard:sample-overlay", args=[sample.pk])).status_code == 404


def test_viewers_cannot_see_samples(client, person):
    sample = enrolled(person, PHOTO)
    client.force_login(make_user("viewer"))

    for url in (
        reverse("dashboard:sample-card", args=[sample.pk]),
        reverse("dashboard:sample-overlay", args=[sample.pk]),
        reverse("dashboard:sample-chip", args=[sample.pk, 0]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("dashboard:sample-delete", args=[sample.pk])).status_code == 403
    assert FaceSample.objects.filter(pk=sample.pk).exists()

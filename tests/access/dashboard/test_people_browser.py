"""The people pages in headless Chromium. The key test: an admin adds a person with consent, enrolls them from
a real photo through the page (the real Celery worker analyses it), sees the sample enrolled with its overlay,
puts them on the allow list, and a frame of another photo of them, pushed by the camera, shows up as a grant
in the live feed without a reload. Each page is photographed under test-artifacts/screenshots/."""

import base64
import time
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from access.cameras.models import Camera, CameraHealth
from access.cameras.services import issue_device_token
from access.core.images import decode_image
from access.events.models import Event
from access.people import services
from access.people.models import Consent, FaceSample, Person
from access.watchlists.models import AllowEntry, BlockEntry
from recognition import tasks
from recognition.config import EngineConfig
from recognition.gallery import Gallery
from recognition.keypoints import ParsingKeypoints
from recognition.pipeline import Engine
from tests.access.conftest import FACEDATA, IDENTITIES, make_user, stored_files
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

from .conftest import TABLET

PASSWORD = "unused-pw-123"  # make_user's
# Kit Harington's photos are accepted with and without the face parser; these two are 0.37 apart, well within
# the match threshold.
ENROLL_PHOTO = IDENTITIES / "Kit_Harington" / "3.jpg"
PROBE_PHOTO = IDENTITIES / "Kit_Harington" / "1.jpg"
GROUP_PHOTO = FACEDATA / "scenes" / "group_3ddfa_trump_hillary.jpg"
# A cold worker loads the engine and builds its gallery before its first answer, on a shared CPU.
WORKER_WAIT_S = 180
# A frame the worker reaches after FACEGATE_MAX_FRAME_AGE_S is only counted stale; the camera pushes again.
PUSH_ATTEMPTS = 5

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def real_photos() -> None:
    if not IDENTITIES.is_dir() or not GROUP_PHOTO.is_file():
        pytest.skip(f"real photos not found under {FACEDATA} (set FACEGATE_FACEDATA)")


def fill(browser, name: str, text: str) -> None:
    field = browser.driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(text)


def click(browser, css: str) -> None:
    browser.driver.find_element(By.CSS_SELECTOR, css).click()


def show(browser, css: str) -> None:
    element = browser.driver.find_element(By.CSS_SELECTOR, css)
    browser.driver.execute_script("arguments[0].scrollIntoView();", element)


def image_loaded(browser, css: str) -> int:
    """The natural width of the image at `css` once it has loaded, else 0."""
    return browser.driver.execute_script(
        "const image = document.querySelector(arguments[0]);"
        "return image && image.complete ? image.naturalWidth : 0;",
        css,
    )


def push_until_decided(camera: Camera, photo: Path, worker) -> Event:
    """Push the photo as the camera's device until the worker decides on it (a frame it reaches too late is
    only counted stale)."""
    device = APIClient()
    device.credentials(HTTP_AUTHORIZATION=f"Token {issue_device_token(camera)}")
    body = {"image_base64": base64.b64encode(photo.read_bytes()).decode()}
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        response = device.post(f"/api/cameras/{camera.pk}/frames/", body, format="json")
        assert response.status_code == 202 and response.json()["queued"], response.content
        deadline = time.monotonic() + WORKER_WAIT_S
        while handled_frames(camera) < attempt:
            if time.monotonic() > deadline:
                handled = handled_frames(camera)
                pytest.fail(f"the worker handled {handled} of {attempt} frames; its log ends:\n"
                            f"{worker.log_tail()}", pytrace=False)
            time.sleep(0.2)
        event = Event.objects.filter(camera=camera).first()
        if event is not None:
            return event
    pytest.fail(f"no decision after {PUSH_ATTEMPTS} frames; the worker's log ends:\n{worker.log_tail()}")


def handled_frames(camera: Camera) -> int:
    health = CameraHealth.objects.filter(camera=camera).first()
    return 0 if health is None else health.frames_analysed + health.frames_stale


def test_enroll_from_a_photo_then_a_camera_frame_of_them_is_granted_live(
    browser, celery_worker, camera, settings
):
    settings.MEDIA_ROOT = str(celery_worker.media_root)  # the worker reads the photos this server stores
    door = camera.door
    door.grant_frames = 1  # one frame of a known face decides: the camera pushes single photos
    door.mqtt_topic = f"facegate-test/{camera.pk}-{time.time_ns()}/door"  # runs share one broker
    door.save()
    make_user("admin")
    browser.log_in("admin-user", PASSWORD)

    click(browser, 'nav a[href="/dashboard/people/"]')
    click(browser, 'a[href="/dashboard/people/add/"]')
    fill(browser, "name", "Kit Harington")
    fill(browser, "external_id", "E-45")
    Select(browser.driver.find_element(By.NAME, "consent-method")).select_by_visible_text("Signed paper form")
    fill(browser, "consent-document_reference", "HR file 45")
    browser.screenshot("person-add")
    click(browser, ".person-form button[type=submit]")

    person = browser.wait_for(lambda _: Person.objects.filter(external_id="E-45").first(), "the new person")
    assert Consent.objects.get(person=person).document_reference == "HR file 45"
    browser.wait_for(lambda driver: driver.find_element(By.ID, "upload-form"), "the person page")
    browser.driver.find_element(By.NAME, "image").send_keys(str(ENROLL_PHOTO))
    click(browser, "#upload-form button[type=submit]")

    sample = browser.wait_for(lambda _: FaceSample.objects.filter(person=person).first(), "the stored photo")
    card = f'#sample-{sample.pk}[data-state="enrolled"]'
    browser.driver.execute_script("window.sameDocument = true;")  # gone if the page reloads
    browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, card), "the sample to be enrolled by the worker",
        timeout=WORKER_WAIT_S,
    )
    assert browser.driver.execute_script("return window.sameDocument === true;"), "the card updated in place"
    assert "Accepted" in browser.driver.find_element(By.CSS_SELECTOR, f"{card} .verdict").text
    browser.wait_for(lambda _: image_loaded(browser, f"{card} img.overlay") >= 480, "the overlay to load")
    browser.wait_for(lambda _: image_loaded(browser, f"{card} img.chip") == 150, "the aligned chip to load")
    assert FaceSample.objects.get(pk=sample.pk).state == FaceSample.State.ENROLLED
    show(browser, "#samples")
    browser.screenshot("person-enrolled")

    click(browser, '[data-list="allow"] details.add summary')
    Select(browser.driver.find_element(By.CSS_SELECTOR, '[data-list="allow"] select[name="door"]')) \
        .select_by_visible_text(str(door))
    show(browser, "#lists")
    browser.screenshot("person-allow-form")
    click(browser, '[data-list="allow"] details.add button[type=submit]')
    browser.wait_for(lambda _: AllowEntry.objects.filter(person=person, door=door).exists(), "the entry")
    browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, '[data-list="allow"] [data-entry-id]'),
        "the allow entry on the page",
    )
    show(browser, "#lists")
    browser.screenshot("person-lists")

    browser.open("/dashboard/")
    browser.wait_until_live()
    browser.driver.execute_script("window.sameDocument = true;")
    grant = push_until_decided(camera, PROBE_PHOTO, celery_worker)

    assert (grant.decision, grant.person, grant.door) == ("grant", person, door)
    left, top, right, bottom = grant.face_box  # where the face was, for the cameras page to draw
    assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1, grant.face_box
    row = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, f'[data-event-id="{grant.pk}"]'),
        "the grant in the live feed",
    )
    assert browser.driver.execute_script("return window.sameDocument === true;"), "the feed did not reload"
    assert row.find_element(By.CSS_SELECTOR, ".decision").text == "GRANT"
    assert row.find_element(By.CSS_SELECTOR, ".person").text == "Kit Harington"
    browser.screenshot("feed-grant")


@pytest.fixture(scope="module")
def parsing_engine() -> Engine:
    """The engine with the face parser as its keypoint model, so the overlay has a parsing to show."""
    return Engine(EngineConfig(device="cpu"), keypoints=ParsingKeypoints())


def enrolled_here(person: Person, photo: Path, engine: Engine) -> FaceSample:
    """Enrolled in this process by the enrollment service, with `engine`, as a worker would."""
    sample = services.add_sample(person, decode_image(photo.read_bytes()))

    def analyse(pixels, person_id: int) -> services.SampleAnalysis:
        return tasks.analyse_sample(engine, Gallery(), pixels, person_id)

    return services.enroll_sample(sample.pk, analyse)


def fits_tablet(browser, name: str) -> None:
    browser.screenshot(name, TABLET)
    overflow = browser.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at tablet width"


def test_every_people_page_renders_and_fits_a_tablet(
    browser, person, person_without_consent, door, parsing_engine
):
    kit = Person.objects.create(name="Kit Harington", external_id="E-45", notes="Night shift, car park B")
    Consent.objects.create(person=kit, method=Consent.Method.ELECTRONIC, document_reference="DocuSign 45")
    AllowEntry.objects.create(person=kit, door=door, note="Staff")
    BlockEntry.objects.create(person=person_without_consent, reason="Threatened staff")
    enrolled = enrolled_here(kit, ENROLL_PHOTO, parsing_engine)
    rejected = enrolled_here(kit, GROUP_PHOTO, parsing_engine)
    assert (enrolled.state, rejected.state) == (FaceSample.State.ENROLLED, FaceSample.State.REJECTED)
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)

    browser.open("/dashboard/people/")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "table.people tbody tr[data-person-id]")
    assert [row.find_element(By.CSS_SELECTOR, ".name").text for row in rows] == [
        "Abdullah Gul", "Al Sharpton", "Kit Harington"]
    browser.screenshot("people")
    fits_tablet(browser, "people-tablet")

    fill(browser, "q", "e-45")
    click(browser, ".search button")
    browser.wait_for(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "tr[data-person-id]")) == 1, "the search"
    )
    browser.screenshot("people-search")

    browser.open(reverse("dashboard:person", args=[kit.pk]))
    browser.wait_for(
        lambda _: image_loaded(browser, f"#sample-{enrolled.pk} img.overlay"), "the enrolled photo's overlay"
    )
    caption = browser.driver.find_element(By.CSS_SELECTOR, f"#sample-{enrolled.pk} img.overlay + figcaption")
    assert caption.text == "What the pipeline saw", "the parsing is drawn"
    rejected_card = browser.driver.find_element(By.CSS_SELECTOR, f"#sample-{rejected.pk}")
    assert rejected_card.find_element(By.CSS_SELECTOR, ".state").text == "Rejected"
    assert rejected_card.find_element(By.CSS_SELECTOR, ".verdict").text.startswith("2 faces found")
    assert len(rejected_card.find_elements(By.CSS_SELECTOR, "img.chip")) == 2
    browser.screenshot("person")
    fits_tablet(browser, "person-tablet")
    show(browser, f"#sample-{rejected.pk}")
    browser.screenshot("person-rejected-sample")

    browser.open(reverse("dashboard:person", args=[person_without_consent.pk]))
    notice = browser.driver.find_element(By.CSS_SELECTOR, "#samples .no-consent").text
    assert notice == "Record consent first: without it no photo can be enrolled."
    assert not browser.driver.find_elements(By.ID, "upload-form")
    browser.screenshot("person-without-consent")
    fits_tablet(browser, "person-without-consent-tablet")

    browser.open(reverse("dashboard:person-edit", args=[kit.pk]))
    browser.screenshot("person-edit")
    fits_tablet(browser, "person-edit-tablet")
    browser.open(reverse("dashboard:person-add"))
    fits_tablet(browser, "person-add-tablet")


def test_a_file_that_is_not_a_photo_is_refused_on_the_page(browser, person, tmp_path, media_root):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a photo at all")
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)
    browser.open(reverse("dashboard:person", args=[person.pk]))

    browser.driver.find_element(By.NAME, "image").send_keys(str(notes))
    click(browser, "#upload-form button[type=submit]")

    error = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#upload-form .error"), "the refusal"
    )
    assert error.text == "The file is not an image Pillow can read."
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []
    show(browser, "#samples")
    browser.screenshot("person-upload-refused")


def test_a_viewer_cannot_reach_the_people_pages(browser, person):
    make_user("viewer")
    browser.log_in("viewer-user", PASSWORD)

    assert not browser.driver.find_elements(By.CSS_SELECTOR, 'nav a[href="/dashboard/people/"]')
    for page in ("/dashboard/people/", f"/dashboard/people/{person.pk}/", "/dashboard/people/add/"):
        browser.open(page)
        assert "403" in browser.driver.find_element(By.TAG_NAME, "body").text, page
    browser.screenshot("people-viewer-refused")


def test_without_a_camera_the_page_says_so(browser, person):
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)
    browser.open(reverse("dashboard:person", args=[person.pk]))

    click(browser, "#webcam-start")

    status = browser.wait_for(
        lambda driver: driver.find_element(By.ID, "webcam-status").text, "the page to report the camera"
    )
    assert status.startswith("The camera could not be opened: ")
    assert browser.driver.find_element(By.ID, "webcam").get_attribute("hidden") == "true"
    assert not FaceSample.objects.exists()


CARD_FETCHES = """
return performance.getEntriesByType("resource")
  .filter(entry => entry.name.includes(arguments[0])).map(entry => entry.startTime);
"""


def fetched_three_times(browser, url: str) -> list[float] | None:
    """When the page has fetched `url` three times or more, the times it did (ms); else None."""
    times = browser.driver.execute_script(CARD_FETCHES, url)
    return times if len(times) >= 3 else None


def test_a_pending_card_is_asked_for_less_and_less_often(browser, person, photo_bytes):
    sample, _ = services.store_sample(person, decode_image(photo_bytes), enqueue=False)  # no worker takes it
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)
    browser.open(reverse("dashboard:person", args=[person.pk]))
    card_url = reverse("dashboard:sample-card", args=[sample.pk])

    asked_at = browser.wait_for(
        lambda _: fetched_three_times(browser, card_url), "the card to be asked for three times"
    )
    first_wait, second_wait = asked_at[1] - asked_at[0], asked_at[2] - asked_at[1]
    assert second_wait > first_wait * 1.3, f"waits of {first_wait:.0f} then {second_wait:.0f} ms: no back-off"
    assert browser.driver.find_element(By.ID, f"sample-{sample.pk}").get_attribute("data-state") == "pending"

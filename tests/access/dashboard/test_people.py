"""The people pages without a browser: who reaches them, search, add and edit, consent, list membership and
photo uploads, and that bad input is a clear 4xx that stores nothing."""

from io import BytesIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from PIL import Image

from access.audit.models import AuditLog
from access.people.models import Consent, FaceSample, Person
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry
from tests.access.conftest import make_user, stored_files

pytestmark = pytest.mark.django_db


def page_urls(person: Person) -> list[str]:
    return [
        reverse("dashboard:people"),
        reverse("dashboard:person-add"),
        reverse("dashboard:person", args=[person.pk]),
        reverse("dashboard:person-edit", args=[person.pk]),
    ]


def signed_in(client: Client, role: str) -> Client:
    client.force_login(make_user(role))
    return client


@pytest.fixture
def operator(client) -> Client:
    return signed_in(client, "operator")


def text_of(response) -> str:
    return response.content.decode()


def test_anonymous_people_are_sent_to_sign_in(client, person):
    for url in page_urls(person):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("dashboard:login"))


@pytest.mark.parametrize("role", ["viewer", "device"])
def test_viewers_and_devices_are_refused_every_people_page(client, person, role):
    signed_in(client, role)

    for url in page_urls(person):
        assert client.get(url).status_code == 403, url
    upload = client.post(reverse("dashboard:person-samples", args=[person.pk]), {})
    assert upload.status_code == 403
    assert 'href="/dashboard/people/"' not in text_of(client.get(reverse("dashboard:feed")))


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operators_and_admins_reach_every_people_page(client, person, role):
    signed_in(client, role)

    for url in page_urls(person):
        assert client.get(url).status_code == 200, url
    assert 'href="/dashboard/people/"' in text_of(client.get(reverse("dashboard:feed")))


def test_search_by_name_or_external_id(operator):
    for name, external_id in [("Abdullah Gul", "E-1001"), ("Al Sharpton", "E-2002"), ("Alan Ball", "X-77")]:
        Person.objects.create(name=name, external_id=external_id)

    def found(query: str) -> list[str]:
        page = operator.get(reverse("dashboard:people"), {"q": query})
        assert page.status_code == 200
        return [person.name for person in page.context["people"]]

    assert found("al") == ["Al Sharpton", "Alan Ball"]
    assert found("e-") == ["Abdullah Gul", "Al Sharpton"]
    assert found("x-77") == ["Alan Ball"]
    assert found("nobody") == []
    assert "Nobody matches “nobody”." in text_of(operator.get(reverse("dashboard:people"), {"q": "nobody"}))


def test_a_malformed_filter_is_a_400(operator, person):
    response = operator.get(reverse("dashboard:people"), {"status": "retired"})

    assert response.status_code == 400
    assert "status: Select a valid choice. retired is not one of the available choices." in text_of(response)


def test_the_list_shows_consent_photos_and_lists(operator, person, person_without_consent, door):
    AllowEntry.objects.create(person=person, door=door)
    BlockEntry.objects.create(person=person_without_consent, reason="Trespass")

    people = {person.name: person for person in operator.get(reverse("dashboard:people")).context["people"]}

    gul, sharpton = people["Abdullah Gul"], people["Al Sharpton"]
    assert (gul.consented, gul.allowed, gul.blocked, gul.enrolled_samples) == (True, True, False, 0)
    assert (sharpton.consented, sharpton.allowed, sharpton.blocked) == (False, False, True)


def test_adding_a_person_with_consent(operator):
    response = operator.post(reverse("dashboard:person-add"), {
        "name": "Barack Obama", "external_id": "E-44", "status": "active", "notes": "",
        "consent-method": "signed_form", "consent-document_reference": "HR file 44",
    })

    person = Person.objects.get(external_id="E-44")
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:person", args=[person.pk])
    consent = Consent.objects.get(person=person)
    assert (consent.method, consent.document_reference) == ("signed_form", "HR file 44")
    assert consent.recorded_by.username == "operator-user"


def test_adding_a_person_whose_consent_comes_later(operator):
    response = operator.post(reverse("dashboard:person-add"), {
        "name": "Kit Harington", "external_id": "E-45", "status": "active", "consent-method": "",
    })

    assert response.status_code == 302
    person = Person.objects.get(external_id="E-45")
    assert not Consent.objects.filter(person=person).exists()
    page = text_of(operator.get(response["Location"]))
    assert "no photo of Kit Harington can be enrolled until it is" in page
    assert 'id="upload-form"' not in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "", "external_id": "E-9"}, "This field is required."),
        ({"name": "Someone", "external_id": "E-1001"}, "Person with this External ID already exists."),
        ({"name": "Someone", "external_id": "E-9", "status": "retired"}, "Select a valid choice."),
        ({"name": "Someone", "external_id": "E-9", "consent-method": "telepathy"}, "Select a valid choice."),
    ],
    ids=["no-name", "taken-external-id", "unknown-status", "unknown-consent-method"],
)
def test_a_malformed_new_person_is_a_400_that_stores_nothing(operator, person, form, message):
    response = operator.post(reverse("dashboard:person-add"), {"status": "active", **form})

    assert response.status_code == 400
    assert message in text_of(response)
    assert list(Person.objects.values_list("external_id", flat=True)) == ["E-1001"]
    assert Consent.objects.count() == 1


def test_editing_a_person(operator, person):
    url = reverse("dashboard:person-edit", args=[person.pk])

    response = operator.post(url, {"name": "Abdullah Gül", "external_id": "E-1001", "status": "suspended"})

    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.name, person.status) == ("Abdullah Gül", "suspended")
    refused = operator.post(url, {"name": "", "external_id": "E-1001", "status": "active"})
    assert refused.status_code == 400
    person.refresh_from_db()
    assert (person.name, person.status) == ("Abdullah Gül", "suspended")


def test_unknown_ids_are_404(operator, person):
    for url in [
        reverse("dashboard:person", args=[999999]),
        reverse("dashboard:person-edit", args=[999999]),
        reverse("dashboard:sample-card", args=[999999]),
        reverse("dashboard:sample-overlay", args=[999999]),
        reverse("dashboard:sample-chip", args=[999999, 0]),
    ]:
        assert operator.get(url).status_code == 404, url
    for url in [
        reverse("dashboard:person-samples", args=[999999]),
        reverse("dashboard:person-consent", args=[999999]),
        reverse("dashboard:person-list-add", args=[person.pk, "vip"]),
        reverse("dashboard:person-list-remove", args=[person.pk, "block", 999999]),
        reverse("dashboard:sample-delete", args=[999999]),
    ]:
        assert operator.post(url, {}).status_code == 404, url


def test_recording_and_withdrawing_consent(operator, person_without_consent, photo_bytes, media_root):
    person = person_without_consent
    url = reverse("dashboard:person-consent", args=[person.pk])

    assert operator.post(url, {"method": "by carrier pigeon"}).status_code == 400
    assert not Consent.objects.filter(person=person).exists()
    assert operator.post(url, {"method": "electronic", "document_reference": "DocuSign 7"}).status_code == 302
    assert Consent.objects.get(person=person).method == "electronic"
    again = operator.post(url, {"method": "signed_form"})
    assert again.status_code == 409
    assert "Consent is already recorded" in text_of(again)

    upload(operator, person, photo_bytes)
    assert FaceSample.objects.filter(person=person).count() == 1
    withdraw = operator.post(reverse("dashboard:person-consent-withdraw", args=[person.pk]))

    assert withdraw.status_code == 302
    assert not Consent.objects.filter(person=person).exists()
    assert not FaceSample.objects.filter(person=person).exists()


def upload(client: Client, person: Person, data: bytes, name: str = "photo.jpg"):
    file = BytesIO(data)
    file.name = name
    return client.post(reverse("dashboard:person-samples", args=[person.pk]), {"image": file})


def test_an_uploaded_photo_is_stored_encrypted_and_pending(operator, person, photo_bytes, media_root):
    response = upload(operator, person, photo_bytes)

    sample = FaceSample.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"#sample-{sample.pk}")
    assert (sample.person, sample.state, sample.uploaded_by.username) == (person, "pending", "operator-user")
    (on_disk,) = stored_files(media_root)
    assert photo_bytes[200:264] not in on_disk.read_bytes()
    card = text_of(operator.get(reverse("dashboard:sample-card", args=[sample.pk])))
    assert 'data-state="pending"' in card and "Being analysed" in card


def jpeg_of(size: tuple[int, int]) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (120, 120, 120)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda photo: b"just some text, not a photo", "The file is not an image Pillow can read."),
        (lambda photo: photo[: len(photo) // 2], "The image is corrupt or truncated"),
        (lambda photo: b"", "The submitted file is empty."),
    ],
    ids=["text", "truncated-jpeg", "empty"],
)
def test_a_bad_upload_is_a_400_that_stores_nothing(operator, person, photo_bytes, media_root, make, message):
    response = upload(operator, person, make(photo_bytes))

    assert response.status_code == 400
    assert message in text_of(response)
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []


def test_an_oversized_upload_is_a_400(operator, person, settings, media_root):
    settings.FACEGATE_MAX_UPLOAD_PIXELS = 100 * 100

    response = upload(operator, person, jpeg_of((200, 200)))

    assert response.status_code == 400
    assert "the limit is 10000 pixels" in text_of(response)
    assert not FaceSample.objects.exists()


def test_a_photo_of_someone_without_consent_is_refused(
    operator, person_without_consent, photo_bytes, media_root
):
    response = upload(operator, person_without_consent, photo_bytes)

    assert response.status_code == 409
    assert "has not consented" in text_of(response)
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []


def test_erasing_a_sample(operator, person, photo_bytes, media_root, django_capture_on_commit_callbacks):
    upload(operator, person, photo_bytes)
    sample = FaceSample.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(reverse("dashboard:sample-delete", args=[sample.pk]))

    assert response.status_code == 302
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []


def test_list_membership_from_the_person_page(operator, person, door):
    def add(kind: str, form: dict):
        return operator.post(reverse("dashboard:person-list-add", args=[person.pk, kind]), form)

    allow = {"door": door.pk, "valid_from": "2026-01-05T08:00", "note": "Staff"}
    missing = {"case_number": "MP-7", "reporting_contact": "Sister", "reported_at": "2026-02-01T10:00"}
    assert add("allow", allow).status_code == 302
    assert add("block", {"reason": "Threatened staff"}).status_code == 302
    assert add("missing", missing).status_code == 302

    allow = AllowEntry.objects.get(person=person)
    assert (allow.door, allow.note) == (door, "Staff")
    block = BlockEntry.objects.get(person=person)
    assert (block.reason, block.added_by.username) == ("Threatened staff", "operator-user")
    assert MissingEntry.objects.get(person=person).case_number == "MP-7"
    page = text_of(operator.get(reverse("dashboard:person", args=[person.pk])))
    assert "Threatened staff" in page and "Case MP-7" in page and "Main entrance" in page

    remove = reverse("dashboard:person-list-remove", args=[person.pk, "block", block.pk])
    assert operator.post(remove).status_code == 302
    assert not BlockEntry.objects.exists()


def test_the_person_is_the_pages_not_the_forms(operator, person, person_without_consent):
    """A posted `person` field cannot put someone else on a list."""
    url = reverse("dashboard:person-list-add", args=[person.pk, "block"])

    assert operator.post(url, {"reason": "Trespass", "person": person_without_consent.pk}).status_code == 302

    assert BlockEntry.objects.get().person == person


@pytest.mark.parametrize(
    ("kind", "form", "message"),
    [
        ("allow", {"note": "no door"}, "An allow entry names either a door or a door group, not both."),
        ("block", {"reason": ""}, "This field is required."),
        ("missing", {"case_number": "MP-1", "reporting_contact": ""}, "This field is required."),
    ],
)
def test_a_malformed_list_entry_is_a_400_that_stores_nothing(operator, person, kind, form, message):
    response = operator.post(reverse("dashboard:person-list-add", args=[person.pk, kind]), form)

    assert response.status_code == 400
    assert message in text_of(response)
    assert not (AllowEntry.objects.exists() or BlockEntry.objects.exists() or MissingEntry.objects.exists())


def test_a_duplicate_case_number_is_a_400(operator, person):
    MissingEntry.objects.create(person=person, case_number="MP-7", reporting_contact="Sister")
    url = reverse("dashboard:person-list-add", args=[person.pk, "missing"])

    response = operator.post(url, {"case_number": "MP-7", "reporting_contact": "Brother"})

    assert response.status_code == 400
    assert MissingEntry.objects.count() == 1


def test_an_entry_of_someone_else_cannot_be_removed_through_this_person(
    operator, person, person_without_consent
):
    theirs = BlockEntry.objects.create(person=person_without_consent, reason="Trespass")
    url = reverse("dashboard:person-list-remove", args=[person.pk, "block", theirs.pk])

    assert operator.post(url).status_code == 404
    assert BlockEntry.objects.filter(pk=theirs.pk).exists()


def test_changes_need_a_csrf_token(person, photo_bytes):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))

    assert upload(client, person, photo_bytes).status_code == 403
    add_block = reverse("dashboard:person-list-add", args=[person.pk, "block"])
    assert client.post(add_block, {"reason": "Trespass"}).status_code == 403
    assert not FaceSample.objects.exists() and not BlockEntry.objects.exists()


def test_changes_made_on_the_pages_are_audited(operator, person):
    operator.post(reverse("dashboard:person-edit", args=[person.pk]),
                  {"name": "Abdullah Gül", "external_id": "E-1001", "status": "active"})
    operator.post(reverse("dashboard:person-list-add", args=[person.pk, "block"]), {"reason": "Trespass"})

    changes = AuditLog.objects.filter(actor__username="operator-user").order_by("pk")
    assert [(entry.action, entry.object_repr) for entry in changes] == [
        ("update", "Abdullah Gül (E-1001)"),
        ("create", "Abdullah Gül (E-1001) blocked: Trespass"),
    ]
    assert changes[0].changes["name"] == {"before": "Abdullah Gul", "after": "Abdullah Gül"}


def test_each_list_needs_its_own_rights(client, person):
    """Someone who may manage people but not the lists sees no list forms, and is refused if they post."""
    clerk = get_user_model().objects.create_user(username="clerk", password="unused-pw-123")
    clerk.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="people", codename__in=["view_person", "change_person"]))
    client.force_login(clerk)

    page = text_of(client.get(reverse("dashboard:person", args=[person.pk])))

    assert "Add to the block list" not in page and "Add to the allow list" not in page
    assert 'id="upload-form"' not in page
    response = client.post(reverse("dashboard:person-list-add", args=[person.pk, "block"]), {"reason": "x"})
    assert response.status_code == 403
    assert not BlockEntry.objects.exists()

"""`manage.py enroll_folder` on a tree of real photos, enrolled in this process through the enrollment task's
body: what it enrolls and rejects (and why), the consent and allow entries it records, and safe re-runs."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from access.core.images import decode_image
from access.people import bulk, services
from access.people.models import Consent, FaceSample, Person
from access.watchlists.models import AllowEntry
from recognition import tasks
from tests.access.conftest import FACEDATA, IDENTITIES

SCENES = FACEDATA / "scenes"


@pytest.fixture(autouse=True)
def fresh_worker_gallery(settings, tmp_path, monkeypatch) -> None:
    settings.FACEGATE_GALLERY_DIR = tmp_path / "gallery"
    monkeypatch.setattr(tasks.RecognitionTask, "_gallery", None)


@pytest.fixture
def tree(tmp_path) -> Path:
    """Two people, each with a good photo; one of them also with a group photo, a cat and a text file; and a
    stray photo beside the person folders (copies in a scratch folder, never in the repository)."""
    if not IDENTITIES.is_dir() or not SCENES.is_dir():
        pytest.skip(f"real photos not found under {FACEDATA} (set FACEGATE_FACEDATA)")
    root = tmp_path / "staff"
    photos = {
        "Abdullah_Gul/1.jpg": IDENTITIES / "Abdullah_Gul" / "1.jpg",
        "Abdullah_Gul/10.jpg": IDENTITIES / "Abdullah_Gul" / "10.jpg",
        "Al_Sharpton/2.jpg": IDENTITIES / "Al_Sharpton" / "2.jpg",
        "Al_Sharpton/party.jpg": SCENES / "group_3ddfa_trump_hillary.jpg",
        "Al_Sharpton/cat.png": SCENES / "noface_skimage_chelsea.png",
        "stray.jpg": IDENTITIES / "Al_Sharpton" / "4.jpg",
    }
    for name, source in photos.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / name)
    (root / "Al_Sharpton" / "notes.txt").write_text("not a photo")
    return root


def run(root: Path, *args: str) -> str:
    out = StringIO()
    call_command("enroll_folder", str(root), "--consent-method", "signed_form", *args, stdout=out)
    return out.getvalue()


def samples_by_file(person: Person) -> dict[str, FaceSample]:
    return {sample.content_sha256: sample for sample in person.samples.all()}


def test_a_folder_tree_is_enrolled_with_reasons_for_each_rejection(db, tree, door):
    output = run(tree, "--allow-door", door.name, "--consent-reference", "HR binder 3")

    gul = Person.objects.get(external_id=bulk.external_id_for("Abdullah_Gul"))
    sharpton = Person.objects.get(external_id=bulk.external_id_for("Al_Sharpton"))
    assert (gul.name, sharpton.name) == ("Abdullah Gul", "Al Sharpton")
    assert [sample.state for sample in gul.samples.all()] == [FaceSample.State.ENROLLED] * 2
    states = {sample.state: sample for sample in sharpton.samples.all()}
    assert sharpton.samples.count() == 3  # the good photo, the group photo and the cat
    assert states[FaceSample.State.ENROLLED].face_code is not None
    reasons = sorted(s.rejection_reason for s in sharpton.samples.filter(state=FaceSample.State.REJECTED))
    assert reasons[0].startswith("2 faces found") and reasons[1] == "no face found"
    for person in (gul, sharpton):
        assert (person.consent.method, person.consent.document_reference) == ("signed_form", "HR binder 3")
        assert AllowEntry.objects.filter(person=person, door=door).count() == 1
    assert "rejected Al_Sharpton/party.jpg: 2 faces found" in output
    assert "rejected Al_Sharpton/cat.png: no face found" in output
    assert "rejected Al_Sharpton/notes.txt: The file is not an image Pillow can read." in output
    assert "rejected stray.jpg: not inside a person folder" in output
    assert "7 files: 3 enrolled, 0 already stored, 4 rejected, 0 pending; 2 people (2 new)." in output


def test_a_second_run_enrolls_nothing_twice(db, tree, door):
    run(tree, "--allow-door", door.name)
    first = {person.pk: samples_by_file(person) for person in Person.objects.all()}

    output = run(tree, "--allow-door", door.name)

    again = {person.pk: samples_by_file(person) for person in Person.objects.all()}
    assert again.keys() == first.keys() and FaceSample.objects.count() == 5
    for person_id, samples in first.items():
        assert {digest: s.pk for digest, s in again[person_id].items()} == {
            digest: s.pk for digest, s in samples.items()
        }
    assert AllowEntry.objects.count() == 2
    assert "7 files: 0 enrolled, 3 already stored, 4 rejected, 0 pending; 2 people (0 new)." in output


def test_a_run_interrupted_after_storing_a_photo_enrolls_it_on_the_next_run(db, tree):
    """An interrupted run leaves a stored, pending sample; the next run enrolls that very sample."""
    gul, _ = bulk.person_for_folder("Abdullah_Gul", bulk.EnrollmentTerms(Consent.Method.SIGNED_FORM))
    photo = decode_image((tree / "Abdullah_Gul" / "1.jpg").read_bytes())
    left_pending, _ = services.store_sample(gul, photo, enqueue=False)

    output = run(tree)

    left_pending.refresh_from_db()
    assert left_pending.state == FaceSample.State.ENROLLED
    assert gul.samples.count() == 2
    assert "Abdullah Gul (abdullah_gul-" in output and ": 2 enrolled" in output


def test_a_mapping_names_the_external_ids_and_an_existing_person_is_reused(db, tree, tmp_path, person):
    mapping = tmp_path / "ids.csv"
    mapping.write_text(f"folder,external_id\nAbdullah_Gul,{person.external_id}\n")

    run(tree, "--external-ids", str(mapping))

    assert person.samples.filter(state=FaceSample.State.ENROLLED).count() == 2
    assert person.consent.document_reference == "HR file 17"  # the consent on record is kept
    assert not Person.objects.filter(external_id=bulk.external_id_for("Abdullah_Gul")).exists()


def test_consent_is_required_and_an_unknown_door_stops_before_anything_is_stored(db, tree):
    with pytest.raises(CommandError, match="--consent-method"):
        call_command("enroll_folder", str(tree), stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No door is named 'Back door'"):
        run(tree, "--allow-door", "Back door")

    assert not Person.objects.exists() and not FaceSample.objects.exists()


def test_external_ids_are_stable_and_keep_alike_names_apart():
    assert bulk.external_id_for("Anne_Marie") == bulk.external_id_for("Anne_Marie")
    assert bulk.external_id_for("Anne-Marie") != bulk.external_id_for("Anne Marie")
    assert len(bulk.external_id_for("x" * 300)) <= Person._meta.get_field("external_id").max_length

"""System checks: `manage.py check` names a missing weights file or an unwritable gallery folder."""

import importlib.util
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from access.people.checks import check_engine, check_gallery_folder


def test_an_installed_engine_and_a_writable_gallery_folder_pass(settings, tmp_path):
    settings.FACEGATE_GALLERY_DIR = tmp_path / "not" / "made" / "yet"

    assert check_engine(None) == []
    assert check_gallery_folder(None) == []


def test_missing_weights_are_an_error_per_model(monkeypatch, tmp_path):
    empty_package = tmp_path / "face_recognition_models"
    (empty_package / "models").mkdir(parents=True)
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "face_recognition_models":
            return importlib.util.spec_from_file_location(
                name, empty_package / "__init__.py", submodule_search_locations=[str(empty_package)]
            )
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    errors = check_engine(None)

    assert [error.id for error in errors] == ["recognition.E002"] * 3
    assert "mmod_human_face_detector.dat is missing" in " ".join(error.msg for error in errors)
    with pytest.raises(SystemCheckError, match="recognition.E002"):
        call_command("check")


def test_a_gallery_folder_that_cannot_be_made_fails_manage_py_check(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.FACEGATE_GALLERY_DIR = Path(blocker) / "gallery"

    [error] = check_gallery_folder(None)
    assert error.id == "people.E001"
    with pytest.raises(SystemCheckError, match="people.E001"):
        call_command("check")

"""`python -m recognition`: JSON lines for good images, a named reason on stderr for each bad one."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recognition.__main__ import main
from recognition.config import EngineConfig
from recognition.models.weights import COMMITTED
from recognition.pipeline import Engine
from tests.facedata import FACEDATA

REPO_ROOT = Path(__file__).resolve().parents[2]
FACE = FACEDATA / "identities" / "Abdoulaye_Wade" / "1.jpg"
GROUP = FACEDATA / "scenes" / "group_face_recognition_two_people.jpg"

needs_facedata = pytest.mark.skipif(not FACE.is_file(), reason=f"real face data is absent: no {FACE}")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "recognition", *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.jpg"
    text.write_text("this is a text file with a .jpg name\n")
    truncated = tmp_path / "truncated.jpg"
    data = FACE.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    return {"missing": tmp_path / "missing.jpg", "text": text, "truncated": truncated}


@needs_facedata
def test_detect_prints_a_line_per_good_image_and_names_each_bad_one(bad_files):
    paths = [FACE, bad_files["missing"], bad_files["text"], bad_files["truncated"], GROUP]

    result = run_cli("detect", *map(str, paths))

    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(FACE), str(GROUP)]
    assert [len(line["faces"]) for line in lines] == [1, 2]
    face = lines[0]["faces"][0]
    assert set(face) == {"box", "score"} and face["score"] > 0
    x1, y1, x2, y2 = face["box"]
    assert all(isinstance(v, int) for v in face["box"]) and 0 <= x1 < x2 <= 250 and 0 <= y1 < y2 <= 250
    errors = result.stderr.splitlines()
    assert f"{bad_files['missing']}: no such file" in errors
    assert any(line.startswith(f"{bad_files['text']}: not an image") for line in errors), errors
    assert any(line.startswith(f"{bad_files['truncated']}: corrupt or truncated image") for line in errors)
    assert errors[-1] == "3 of 5 images failed"


@needs_facedata
def test_encode_prints_the_codes_the_engine_gives():
    result = run_cli("encode", "--device", "cpu", str(FACE))

    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    (face,) = line["faces"]
    (expected,) = Engine(EngineConfig(device="cpu")).analyse(np.asarray(Image.open(FACE).convert("RGB")))
    assert face["box"] == [int(v) for v in expected.box]
    assert np.allclose(face["code"], expected.code, atol=1e-6)


def test_check_config_loads_and_runs_every_model(capsys, monkeypatch):
    monkeypatch.setenv("FACEGATE_DEVICE", "cpu")

    assert main(["check-config"]) == 0

    out = capsys.readouterr().out
    assert "FACEGATE_DEVICE=cpu" in out and "FACEGATE_QUALITY_MAX_YAW=25.0" in out
    assert out.splitlines()[-1].startswith("check-config: settings valid")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FACEGATE_QUALITY_MAX_YAW", "100", "FACEGATE_QUALITY_MAX_YAW must be within [0, 90], got 100.0"),
        ("FACEGATE_BATCH_SIZE", "many", "FACEGATE_BATCH_SIZE must be a whole number, got 'many'"),
        ("FACEGATE_MIN_FACE_SZE", "90", "did you mean FACEGATE_MIN_FACE_SIZE?"),
    ],
)
def test_a_bad_setting_fails_every_command_with_its_name(capsys, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)

    assert main(["check-config"]) == 1
    assert main(["detect", str(FACE)]) == 1

    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2
    assert all(line.startswith("configuration error:") and message in line for line in errors), errors


@pytest.mark.parametrize("option", [["--min-face-size", "0"], ["--upsample", "-1"], ["--device", "tpu"]])
def test_bad_options_are_usage_errors(capsys, option):
    with pytest.raises(SystemExit) as exit:
        main(["detect", *option, str(FACE)])

    assert exit.value.code == 2
    assert option[0] in capsys.readouterr().err


@needs_facedata
@pytest.mark.skipif(not COMMITTED["parser"].is_file(), reason=f"no committed parser: {COMMITTED['parser']}")
def test_parse_writes_a_label_png_and_a_json_per_face_and_names_each_bad_image(tmp_path, bad_files):
    out = tmp_path / "parsed"
    paths = [FACE, bad_files["missing"], bad_files["text"], GROUP]

    result = run_cli("parse", "--device", "cpu", "--out", str(out), *map(str, paths))

    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(FACE), str(GROUP)]
    assert [len(line["faces"]) for line in lines] == [1, 2]
    assert sorted(path.name for path in out.iterdir()) == [
        "Abdoulaye_Wade_1.face0.json",
        "Abdoulaye_Wade_1.face0.png",
        "scenes_group_face_recognition_two_people.face0.json",
        "scenes_group_face_recognition_two_people.face0.png",
        "scenes_group_face_recognition_two_people.face1.json",
        "scenes_group_face_recognition_two_people.face1.png",
    ]
    record = json.loads((out / "Abdoulaye_Wade_1.face0.json").read_text())
    assert record == lines[0]["faces"][0]
    assert set(record) == {"box", "score", "keypoints", "visible", "occluded", "occlusions", "labels"}
    assert record["occluded"] == bool(record["occlusions"])
    assert set(record["visible"]) >= {"left_eye", "right_eye", "nose", "mouth"}
    assert record["keypoints"] and all(
        0 <= point["confidence"] <= 1 for point in record["keypoints"].values()
    )

    labels = np.asarray(Image.open(out / "Abdoulaye_Wade_1.face0.png"))
    assert labels.shape == (250, 250) and labels.dtype == np.uint8 and labels.max() <= 10
    x1, y1, x2, y2 = record["box"]
    assert (labels[y1:y2, x1:x2] == 1).mean() > 0.3  # mostly skin inside the box
    # a found part's centre keypoint lies on (or beside) that part's pixels in the label PNG
    for label, name in ((4, "left_eye_center"), (5, "right_eye_center"), (6, "nose_tip")):
        if (
            record["visible"][name.removesuffix("_center").removesuffix("_tip")]
            and name in record["keypoints"]
        ):
            rows, cols = np.nonzero(labels == label)
            point = record["keypoints"][name]
            assert np.hypot(cols - point["x"], rows - point["y"]).min() < 3

    errors = result.stderr.splitlines()
    assert f"{bad_files['missing']}: no such file" in errors
    assert errors[-1] == "2 of 4 images failed"


def test_parse_needs_an_output_folder():
    result = run_cli("parse", str(FACE))

    assert result.returncode == 2 and "--out" in result.stderr

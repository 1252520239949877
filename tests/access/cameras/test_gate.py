"""The motion gate on real footage: people walking pass; a still scene passes only when a keyframe is due."""

import cv2

from access.cameras.stream.gate import MotionGate
from tests.access.cameras.video import SHOP, TALKING_HEAD, WALKING, video_frames


def test_people_walking_toward_the_camera_pass():
    frames = video_frames(WALKING)[::5]  # 5 frames a second of a 25 fps clip
    gate = MotionGate(keyframe_interval_s=3600)

    passed = [gate.passes(pixels, at=index * 0.2) for index, pixels in enumerate(frames)]

    assert all(passed), passed


def test_a_still_scene_passes_only_as_a_keyframe():
    still = video_frames(SHOP, limit=1)[0]
    gate = MotionGate(keyframe_interval_s=1.0)

    passed = [gate.passes(still.copy(), at=step * 0.2) for step in range(11)]  # 2 s at 5 frames a second

    assert passed == [True, False, False, False, False, True, False, False, False, False, True]


def test_recompression_noise_is_not_motion():
    still = video_frames(SHOP, limit=1)[0]
    _, jpeg = cv2.imencode(".jpg", still, [cv2.IMWRITE_JPEG_QUALITY, 40])
    recompressed = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    gate = MotionGate(keyframe_interval_s=3600)

    assert gate.passes(still, at=0.0)
    assert not gate.passes(recompressed, at=0.2)


def test_a_talking_head_moves_less_than_people_walking():
    gate = MotionGate()
    grey = [cv2.cvtColor(cv2.resize(f, (64, 64)), cv2.COLOR_BGR2GRAY) for f in video_frames(TALKING_HEAD, 26)]
    walking = [cv2.cvtColor(cv2.resize(f, (64, 36)), cv2.COLOR_BGR2GRAY) for f in video_frames(WALKING, 26)]

    talking_motion = gate.motion(grey[0], grey[25])
    walking_motion = gate.motion(walking[0], walking[25])

    assert 0 < talking_motion < walking_motion


def test_a_new_resolution_counts_as_motion():
    gate = MotionGate(keyframe_interval_s=3600)
    shop = video_frames(SHOP, limit=1)[0]

    gate.passes(shop, at=0.0)

    assert gate.passes(cv2.resize(shop, (410, 300)), at=0.2)

"""Track bookkeeping on plain values: which face continues which track, and when K of N frames agree."""

from access.decisions.tracking import (
    UNKNOWN,
    Observation,
    Window,
    iou,
    match_boxes,
    settled_identity,
    undecided_identity,
)

TWO_OF_THREE_IN_2S = Window(grant_frames=2, window_frames=3, window_seconds=2.0)


def seen(at: float, person_id: int | None) -> Observation:
    return Observation(frame_id=f"f{at}", at=at, person_id=person_id, distance=0.3)


def test_overlap_of_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0


def test_each_face_continues_the_track_it_overlaps_most_and_a_stray_face_starts_a_new_one():
    left, right = (100, 100, 200, 200), (400, 100, 500, 200)
    moved_left, moved_right, newcomer = (110, 105, 210, 205), (390, 100, 490, 200), (250, 300, 330, 380)

    assert match_boxes([left, right], [moved_right, newcomer, moved_left]) == [1, None, 0]


def test_two_faces_cannot_continue_one_track():
    track = (100, 100, 200, 200)

    assert match_boxes([track], [(105, 100, 205, 200), (95, 100, 195, 200)]) in ([0, None], [None, 0])


def test_k_of_the_last_n_frames_within_t_settle_the_identity():
    assert settled_identity([seen(0.0, 7)], TWO_OF_THREE_IN_2S) is None
    assert settled_identity([seen(0.0, 7), seen(0.2, None)], TWO_OF_THREE_IN_2S) is None
    assert settled_identity([seen(0.0, 7), seen(0.2, None), seen(0.4, 7)], TWO_OF_THREE_IN_2S) == "person-7"
    assert settled_identity([seen(0.0, None), seen(0.2, None)], TWO_OF_THREE_IN_2S) == UNKNOWN


def test_frames_further_apart_than_t_or_older_than_the_last_n_do_not_agree():
    assert settled_identity([seen(0.0, 7), seen(2.5, 7)], TWO_OF_THREE_IN_2S) is None
    old_agreement = [seen(0.0, 7), seen(0.1, 7), seen(0.2, 3), seen(0.3, None), seen(0.4, 5)]
    assert settled_identity(old_agreement, TWO_OF_THREE_IN_2S) is None


def test_an_enrolled_person_beats_nobody_when_both_reach_k():
    window = Window(grant_frames=2, window_frames=4, window_seconds=2.0)
    observations = [seen(0.0, None), seen(0.1, None), seen(0.2, 7), seen(0.3, 7)]

    assert settled_identity(observations, window) == "person-7"


def test_a_track_is_decided_once_per_identity_and_never_as_a_stranger_after_someone():
    agreeing = [seen(0.0, 7), seen(0.2, 7)]
    strangers = [seen(0.0, None), seen(0.2, None)]

    assert undecided_identity(agreeing, [], TWO_OF_THREE_IN_2S) == "person-7"
    assert undecided_identity(agreeing, ["person-7"], TWO_OF_THREE_IN_2S) is None
    assert undecided_identity(strangers, [], TWO_OF_THREE_IN_2S) == UNKNOWN
    assert undecided_identity(strangers, ["person-7"], TWO_OF_THREE_IN_2S) is None
    assert undecided_identity(agreeing, [UNKNOWN], TWO_OF_THREE_IN_2S) == "person-7"

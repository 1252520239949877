"""Sharing the host's cores between engine processes (recognition.cores), with real processes holding them."""

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from recognition.config import EngineConfig
from recognition.cores import RETURNED_GRACE_S, CoreTokens, host_folder
from recognition.images import read_rgb
from recognition.pipeline import Engine
from tests.facedata import FACEDATA

REPO_ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = FACEDATA / "identities" / "Calista_Flockhart" / "1.jpg"
# A process that holds `cores` of the folder's `count` until its standard input closes.
HOLDER = """
import sys
from pathlib import Path
from recognition.cores import RETURNED_GRACE_S, CoreTokens, host_folder
tokens = CoreTokens(Path(sys.argv[1]), int(sys.argv[2]))
with tokens.task(int(sys.argv[3])):
    print("holding", flush=True)
    sys.stdin.read()
"""


class Holder:
    """Another process holding cores, as another worker's task does."""

    def __init__(self, folder: Path, count: int, cores: int, wait: bool = True):
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder), str(count), str(cores)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if wait:
            self.holding()

    def holding(self) -> None:
        """Wait until it holds its cores."""
        assert self.process.stdout.readline().strip() == "holding"

    def release(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def tokens(tmp_path) -> CoreTokens:
    return CoreTokens(tmp_path / "cores", 2)


def test_a_task_alone_on_the_host_borrows_every_idle_core(tokens):
    with tokens.borrowed() as outside:
        assert outside is None  # outside a task nothing is taken
    with tokens.task():
        assert tokens.held() == 1
        with tokens.borrowed() as cores:
            assert cores == 2
            with tokens.borrowed() as inner:  # a stage inside a stage keeps what it has
                assert inner == 2
        with tokens.task():  # a task run eagerly inside another shares its cores
            assert tokens.held() == 1
    assert tokens.held() == 0


def test_a_core_another_process_holds_is_not_borrowed_and_is_once_it_is_released(tokens):
    other = Holder(tokens.folder, tokens.count, 1)
    try:
        with tokens.task(), tokens.borrowed() as cores:
            assert cores == 1
    finally:
        other.release()
    time.sleep(RETURNED_GRACE_S)  # a core given back is not borrowed at once
    with tokens.task(), tokens.borrowed() as cores:
        assert cores == 2


def test_borrowed_cores_go_back_when_the_stage_ends(tokens):
    with tokens.task():
        with tokens.borrowed() as cores:
            assert cores == 2
        other = Holder(tokens.folder, tokens.count, 1)  # gets the core the stage gave back
        other.release()


def test_a_task_waits_while_every_core_is_held_and_starts_when_one_is_freed(tokens):
    other = Holder(tokens.folder, tokens.count, 2)
    started = threading.Event()

    def task() -> None:
        with tokens.task():
            started.set()

    waiting = threading.Thread(target=task)
    waiting.start()
    try:
        assert not started.wait(0.3)  # both cores are held by the other process
    finally:
        other.release()
    assert started.wait(10)
    waiting.join()


def test_no_stage_borrows_while_a_task_waits_for_a_core(tokens):
    with tokens.task():
        with tokens.borrowed() as cores:
            assert cores == 2
            other = Holder(tokens.folder, tokens.count, 1, wait=False)
            deadline = time.monotonic() + 30
            while not tokens._someone_waits():  # the other process is in line for a core
                assert time.monotonic() < deadline, "the other task never waited"
                time.sleep(0.01)
        # The core just given back is the waiting task's, even though this task's next stage comes first.
        with tokens.borrowed() as cores:
            assert cores == 1
        other.holding()
        with tokens.borrowed() as cores:
            assert cores == 1
        other.release()


def test_a_core_its_task_gave_back_moments_ago_is_left_for_that_workers_next_task(tokens, monkeypatch):
    monkeypatch.setattr("recognition.cores.RETURNED_GRACE_S", 1.0)
    with tokens.task():
        with tokens.borrowed() as borrowing:
            assert borrowing == 2  # never given back yet
        finished = threading.Event()

        def another_workers_task() -> None:
            with tokens.task():
                pass
            finished.set()

        other = threading.Thread(target=another_workers_task)
        other.start()
        other.join()
        assert finished.is_set()
        with tokens.borrowed() as borrowing:
            assert borrowing == 1
        time.sleep(1.05)
        with tokens.borrowed() as borrowing:
            assert borrowing == 2


def test_a_killed_process_frees_its_cores(tokens):
    other = Holder(tokens.folder, tokens.count, 2)
    other.kill()
    with tokens.task(), tokens.borrowed() as cores:
        assert cores == 2


def test_no_cores_to_share_is_refused(tmp_path):
    with pytest.raises(ValueError, match="1 or more"):
        CoreTokens(tmp_path, 0)


@pytest.mark.skipif(not PORTRAIT.is_file(), reason=f"real face data is absent: no {PORTRAIT}")
def test_the_engines_model_stages_run_on_the_cores_its_task_holds_and_borrows(tmp_path):
    engine = Engine(EngineConfig(device="cpu", shared_cores=2))
    engine.cores = CoreTokens(tmp_path, 2)  # the host's own may be held by a worker the suite runs
    threads_seen: list[int] = []
    detect = engine.detector.detect_batch
    code = engine.coder.get_batch

    def detect_batch(*args, **kwargs):
        threads_seen.append(torch.get_num_threads())
        return detect(*args, **kwargs)

    def get_batch(chips: np.ndarray) -> np.ndarray:
        threads_seen.append(torch.get_num_threads())
        return code(chips)

    engine.detector.detect_batch, engine.coder.get_batch = detect_batch, get_batch
    portrait = read_rgb(PORTRAIT)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = engine.analyse(portrait)  # outside a task: the configured one thread
        with engine.task():
            borrowing = engine.analyse(portrait)
            other = Holder(engine.cores.folder, 2, 1)
            try:
                sharing = engine.analyse(portrait)
            finally:
                other.release()
        assert threads_seen == [1, 1, 2, 2, 1, 1]
        assert torch.get_num_threads() == 1  # back to the configured threads after each stage
        assert len(alone) == len(borrowing) == len(sharing) == 1
        assert np.allclose(alone[0].code, borrowing[0].code, atol=1e-5)
    finally:
        torch.set_num_threads(before)


def test_an_engine_that_does_not_share_cores_takes_none():
    config = EngineConfig(device="cpu", shared_cores=0)
    engine = Engine(config)
    assert engine.cores is None
    with engine.task():  # nothing to hold
        assert torch.get_num_threads() == config.torch_threads
    engine.config = dataclasses.replace(config, shared_cores=2)
    engine.prepare("cpu")
    assert engine.cores is not None and engine.cores.count == 2
    assert engine.cores.folder == host_folder()

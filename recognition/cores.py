"""The host's CPU cores, shared by the processes that run the models, as make's jobserver shares job slots.

A core is a token: an exclusive `flock` on one of N files in a folder every model process of the host uses.
A running task holds its own core(s) from start to end, so no more tasks run at once than there are cores;
each model stage (detect, parse, code) also borrows the cores that no task holds, and torch runs on every
core held. A frame alone on the host runs on all its cores; frames that come together run one a core each.
torch's OpenMP threads then never outnumber the cores: two teams of spinning threads on one core make both
ten times slower or worse (bench/pipeline.py measured the face coder 30x slower).

A task waiting for a core says so (a shared lock on `waiting.lock`), and no stage borrows while one waits:
it gets the core the next time a stage gives its borrowed ones back, not after the borrower's whole frame.
Nor is a core borrowed just after its task gave it back (`RETURNED_GRACE_S`): a busy worker's next task is
on its way to it.

The operating system drops a dead process's locks, so a killed worker frees its cores at once. The files
live in the host's own temporary folder (a container's own), never on a volume other hosts may share.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# How often a task waiting for a core looks again. A blocking flock would wait on one file while another
# core may free up first; cores free up when a stage or a task ends, tens of milliseconds apart.
POLL_S = 0.002
# A core its task gave back this recently is not borrowed: it is left for that worker's next task, which a
# busy worker starts within milliseconds and would otherwise wait out the borrower's stage for.
RETURNED_GRACE_S = 0.02
WAITING_FILE = "waiting.lock"  # shared-locked by every task waiting for a core


def host_folder() -> Path:
    """Where this host's engine processes (of this user) keep their core tokens."""
    return Path(tempfile.gettempdir()) / f"facegate-cores-{os.getuid()}"


def host_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


class CoreTokens:
    """`count` cores shared through lock files in `folder`: `task(cores)` holds some for a task's run,
    `borrowed()` adds the idle ones for one model stage."""

    def __init__(self, folder: Path, count: int):
        if count < 1:
            raise ValueError(f"cores to share must be 1 or more, got {count}")
        self.folder, self.count = folder, count
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            path = self._path(index)
            if not path.exists():
                path.touch()
                os.utime(path, (0, 0))  # its modification time says when a task gave the core back: never
        self._held = threading.local()  # each thread's task holds its own files

    def held(self) -> int:
        """The cores this thread's task holds (0 outside a task)."""
        return len(getattr(self._held, "files", ()))

    @contextmanager
    def task(self, cores: int = 1) -> Iterator[None]:
        """Hold `cores` cores (at most all of them) while the block runs, waiting until they are free. A task
        run inside another (an eager call) shares its caller's."""
        if self.held():
            yield
            return
        files: list[int] = []
        try:
            while len(files) < min(cores, self.count):
                files += self._take(1) or self._wait()
            self._held.files = files
            yield
        finally:
            self._held.files = []
            for descriptor in files:
                os.utime(descriptor)  # given back now
            _release(files)

    @contextmanager
    def borrowed(self) -> Iterator[int | None]:
        """Within a task: the cores it holds plus every idle one, taken for the block (a block inside it keeps
        them) unless a task waits for a core; yields how many are held. Outside a task yields None, and takes
        nothing."""
        if not self.held():
            yield None
            return
        if getattr(self._held, "extra", None) is not None:
            yield self.held() + len(self._held.extra)
            return
        self._held.extra = [] if self._someone_waits() else self._take(self.count, borrowing=True)
        try:
            yield self.held() + len(self._held.extra)
        finally:
            _release(self._held.extra)
            self._held.extra = None

    def _path(self, index: int) -> Path:
        return self.folder / f"core-{index}.lock"

    def _open(self, path: Path) -> int:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def _take(self, wanted: int, borrowing: bool = False) -> list[int]:
        """Up to `wanted` idle cores, without waiting, starting from a place of this process's own so that
        processes do not all try the same file first; to borrow, only those given back a while ago."""
        taken: list[int] = []
        start = os.getpid() % self.count
        for offset in range(self.count):
            if len(taken) == wanted:
                break
            descriptor = self._open(self._path((start + offset) % self.count))
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held by a task, or by this one (its own lock, through another file)
                os.close(descriptor)
                continue
            if borrowing and time.time() - os.fstat(descriptor).st_mtime < RETURNED_GRACE_S:
                os.close(descriptor)
            else:
                taken.append(descriptor)
        return taken

    def _wait(self) -> list[int]:
        waiting = self._open(self.folder / WAITING_FILE)
        try:
            fcntl.flock(waiting, fcntl.LOCK_SH)
            while True:
                time.sleep(POLL_S)
                taken = self._take(1)
                if taken:
                    return taken
        finally:
            os.close(waiting)

    def _someone_waits(self) -> bool:
        waiting = self._open(self.folder / WAITING_FILE)
        try:
            fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            return False
        finally:
            os.close(waiting)


def _release(files: list[int]) -> None:
    for descriptor in files:
        os.close(descriptor)  # closing the file drops its lock

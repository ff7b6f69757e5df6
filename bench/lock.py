"""One trainer per run: an exclusive flock on <run>/run.lock, released by the OS even after kill -9."""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from pathlib import Path

from bench import results


@contextmanager
def run_lock(run_dir):
    """Yields None when this process holds the run, else the holder's description (and holds nothing)."""
    path = Path(run_dir) / results.LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            yield holder
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield None
    finally:
        os.close(fd)  # closing releases the lock

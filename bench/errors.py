"""The one exception type a user can cause; the CLI prints it as one line and exits 2."""

import difflib


class BenchError(Exception):
    """A mistake in the user's input or environment, phrased as one sentence naming the fix."""


class Stopped(BaseException):
    """A command stopped by a signal (SIGTERM, SIGINT, SIGUSR2) after its runs saved their position: raised by the
    executor that saw the stop, so no later step of the command (a second level of runs, bench tune's choice and
    seed runs) starts; the CLI exits 128 + the signal. A BaseException, so no per-run `except Exception` turns a
    stop into a failed run."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def closest(name, choices):
    """Return ' (did you mean X?)' for the closest valid name, or '' if none is close."""
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def unknown(kind, name, choices):
    return BenchError(
        f"unknown {kind} {name!r}{closest(name, choices)}; "
        f"valid {kind}s: {', '.join(sorted(choices))}"
    )


def write_problem(exc):
    """One sentence for an OSError the user can fix where bench writes (disk full, quota, read-only,
    permissions), or None for any other error."""
    import errno

    if not isinstance(exc, OSError) or exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                                         errno.EPERM, errno.EFBIG):
        return None
    where = f" {exc.filename}" if exc.filename else ""
    return (f"cannot write{where} ({exc.strerror or exc}); free space or fix the permissions, then run the same "
            "command again (finished work is kept, a run resumes)")

"""Text files a user gives bench (split lists, class-name files, config and sweep files), read one way: UTF-8, a
byte-order mark dropped (Windows editors write one), and anything else one error naming the file and line."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError


def read_text(path: str | Path, what: str = "file") -> str:
    """The file's text; BenchError naming the file, the line and the fix when it is not UTF-8."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BenchError(f"{what} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it "
                         "as UTF-8") from None

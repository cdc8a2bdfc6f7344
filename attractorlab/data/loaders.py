"""Loaders: MNIST, Omniglot, Olshausen & Field images, SR benchmarks, CIFAR-10, bundled images.

Every loader goes through :func:`attractorlab.data.registry.fetch`, so each file is checked
against its sha256 (once) and a missing file raises :class:`DataMissingError` naming it.
Decoded MNIST and Omniglot arrays are cached as ``.npy`` under
``<cache dir>/arrays/`` keyed by the source file's sha256, so the second load is fast.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from attractorlab.data import registry as _registry
from attractorlab.data.registry import (
    DataCorruptError,
    cache_dir,
    data_root,
    entries,
    entry,
    fetch,
)

__all__ = [
    "data_files",
    "load_mnist",
    "OmniglotSet",
    "load_omniglot",
    "omniglot_sample",
    "omniglot_split",
    "load_olshausen",
    "SR_SETS",
    "load_sr_set",
    "CIFAR10_CLASSES",
    "cifar10_batches",
    "cifar10_missing_batches",
    "cifar10_source",
    "cifar10_summary",
    "load_cifar10",
    "BUNDLED_IMAGES",
    "bundled_image",
]

_ARRAY_FORMAT = 1  # bump when a cached array's layout changes


# ---------------------------------------------------------------- array cache
def _cached(name: str, sha: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays built by ``build()``, cached as ``<cache>/arrays/<name>-<sha[:16]>-v<fmt>.npz``.

    The npz is uncompressed (fast to read) and written atomically. Any failure to read or
    write the cache falls back to building.
    """
    path = cache_dir() / "arrays" / f"{name}-{sha[:16]}-v{_ARRAY_FORMAT}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            pass
    arrays = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass
    return arrays


# ---------------------------------------------------------------- MNIST
_MNIST_FILES = {
    "train": ("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"),
    "test": ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"),
}


def _read_idx(path: Path, magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise DataCorruptError("mnist", path, f"idx magic {magic}", f"idx magic {got}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits from the official idx files.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: 60,000 images; ``"test"``: the 10,000 t10k images.

    Returns
    -------
    images : ndarray, uint8, shape (n, 28, 28)
        Grey levels 0 (background) to 255 (ink).
    labels : ndarray, uint8, shape (n,)
        Digits 0-9.
    """
    if split not in _MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(_MNIST_FILES)}, got {split!r}")
    img_rel, lab_rel = _MNIST_FILES[split]
    img_path, lab_path = fetch(img_rel), fetch(lab_rel)
    sha = entry(img_rel).sha256[:8] + entry(lab_rel).sha256[:8]

    def build():
        return {"images": _read_idx(img_path, 2051).copy(), "labels": _read_idx(lab_path, 2049).copy()}

    arr = _cached(f"mnist-{split}", sha, build)
    return arr["images"], arr["labels"]


# ---------------------------------------------------------------- Omniglot
_OMNI_NAME = re.compile(r"^images_(background|evaluation)/([^/]+)/character(\d+)/(\d+)_(\d+)\.png$")


@dataclass(frozen=True)
class OmniglotSet:
    """Omniglot images with their labels (Lake et al. 2015).

    Attributes
    ----------
    images : ndarray, bool, shape (n, 105, 105)
        True where the pixel is part of a stroke (black in the PNG).
    alphabet : ndarray of str, shape (n,)
        Alphabet folder name, e.g. ``"Latin"``.
    character : ndarray, int64, shape (n,)
        Character class 0 .. n_characters-1, unique across alphabets (sorted by alphabet,
        then character folder). 964 classes in the background set, 659 in evaluation.
    character_in_alphabet : ndarray, int64, shape (n,)
        The ``NN`` of the ``characterNN`` folder (1-based within the alphabet).
    drawer : ndarray, int64, shape (n,)
        The ``MM`` of ``NNNN_MM.png``: which of the 20 drawers drew it (1-20).
    names : ndarray of str, shape (n,)
        Member name inside the zip.
    subset : str
        ``"background"`` or ``"evaluation"``.
    """

    images: np.ndarray
    alphabet: np.ndarray
    character: np.ndarray
    character_in_alphabet: np.ndarray
    drawer: np.ndarray
    names: np.ndarray
    subset: str = field(default="background")

    def __len__(self) -> int:
        return len(self.images)


_OMNI_ZIPS = {"background": "omniglot/images_background.zip", "evaluation": "omniglot/images_evaluation.zip"}
_OMNI_COUNTS = {"background": 19_280, "evaluation": 13_180}


def _omniglot_index(subset: str) -> tuple[Path, list[str], dict[str, np.ndarray]]:
    """Zip path, sorted PNG member names and label arrays, without decoding images."""
    if subset not in _OMNI_ZIPS:
        raise ValueError(f"subset must be one of {sorted(_OMNI_ZIPS)}, got {subset!r}")
    path = fetch(_OMNI_ZIPS[subset])
    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".png"))
    alph, char_in, drawer, keys = [], [], [], []
    for n in names:
        m = _OMNI_NAME.match(n)
        if m is None or m.group(1) != subset:
            raise DataCorruptError("omniglot", path, "members images_<subset>/<Alphabet>/characterNN/NNNN_MM.png",
                                   f"member {n!r}")
        alph.append(m.group(2))
        char_in.append(int(m.group(3)))
        drawer.append(int(m.group(5)))
        keys.append((m.group(2), int(m.group(3))))
    uniq = {k: i for i, k in enumerate(sorted(set(keys)))}
    if len(names) != _OMNI_COUNTS[subset]:
        raise DataCorruptError("omniglot", path, f"{_OMNI_COUNTS[subset]} images", f"{len(names)} images")
    labels = {
        "alphabet": np.array(alph),
        "character": np.array([uniq[k] for k in keys], dtype=np.int64),
        "character_in_alphabet": np.array(char_in, dtype=np.int64),
        "drawer": np.array(drawer, dtype=np.int64),
        "names": np.array(names),
    }
    return path, names, labels


def _decode_omniglot_png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("L")) < 128  # strokes are black
    return arr


def _omniglot_images(path: Path, names: list[str]) -> np.ndarray:
    out = np.empty((len(names), 105, 105), dtype=bool)
    with zipfile.ZipFile(path) as zf:
        for i, n in enumerate(names):
            img = _decode_omniglot_png(zf.read(n))
            if img.shape != (105, 105):
                raise DataCorruptError("omniglot", path, "105x105 images", f"{img.shape} for {n!r}")
            out[i] = img
    return out


def load_omniglot(subset: str = "background") -> OmniglotSet:
    """Omniglot images and labels from ``images_<subset>.zip``.

    Parameters
    ----------
    subset : {"background", "evaluation"}
        ``"background"``: 30 alphabets, 964 characters, 19,280 images (the set the CBAN
        paper splits 15,424 / 3,856; see :func:`omniglot_split`). ``"evaluation"``: 20
        alphabets, 659 characters, 13,180 images.

    Returns
    -------
    OmniglotSet
        Images (bool, (n, 105, 105), strokes True) in sorted member-name order, with labels.

    Notes
    -----
    The first call decodes every PNG (seconds); the result is cached bit-packed under the
    cache dir, keyed by the zip's sha256.
    """
    path, names, labels = _omniglot_index(subset)

    def build():
        return {"packed": np.packbits(_omniglot_images(path, names), axis=-1)}

    packed = _cached(f"omniglot-{subset}", entry(_OMNI_ZIPS[subset]).sha256, build)["packed"]
    images = np.unpackbits(packed, axis=-1, count=105).view(bool)  # 0/1 bytes viewed as bool
    return OmniglotSet(images=images, subset=subset, **labels)


def omniglot_sample(n: int = 8, seed: int = 0, subset: str = "background") -> np.ndarray:
    """``n`` Omniglot images (bool, (n, 105, 105)) decoded straight from the zip (no full load)."""
    path, names, _ = _omniglot_index(subset)
    pick = np.sort(np.random.default_rng(seed).choice(len(names), size=n, replace=False))
    return _omniglot_images(path, [names[i] for i in pick])


def omniglot_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic 80/20 train/test split of the Omniglot background set (15,424 / 3,856).

    The CBAN paper (Iuzzolino et al.) uses 15,424 training and 3,856 test images, which is
    exactly 80/20 of the 19,280 background images, without saying how they were split. We
    split **by image, stratified by character**: for each of the 964 characters, 4 of its
    20 drawings (chosen at random with ``seed``) go to the test set and 16 to training, so
    every character is seen in training (completion, not one-shot generalisation).

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    train_idx, test_idx : ndarray, int64
        Sorted indices into :func:`load_omniglot` ``("background")`` arrays; 15,424 and 3,856
        of them, disjoint, together all 19,280 images.
    """
    _, _, labels = _omniglot_index("background")
    char = labels["character"]
    rng = np.random.default_rng(seed)
    test = []
    for c in range(int(char.max()) + 1):
        idx = np.flatnonzero(char == c)
        test.append(rng.choice(idx, size=len(idx) // 5, replace=False))
    test_idx = np.sort(np.concatenate(test)).astype(np.int64)
    mask = np.ones(len(char), dtype=bool)
    mask[test_idx] = False
    train_idx = np.flatnonzero(mask).astype(np.int64)
    return train_idx, test_idx


# ---------------------------------------------------------------- Olshausen & Field
def _read_hips_header(path: Path) -> dict[str, int]:
    """Rows, cols, frames, bits/pixel and pixel format of the sparsenet HIPS header."""
    lines = path.read_bytes().decode("ascii", "replace").split("\n")
    # HIPS: orig_name, seq_name, num_frame, orig_date, rows, cols, bits_per_pixel, bit_packing, pixel_format
    try:
        return {"frames": int(lines[2]), "rows": int(lines[4]), "cols": int(lines[5]),
                "bits": int(lines[6]), "packing": int(lines[7]), "format": int(lines[8])}
    except (IndexError, ValueError):
        raise DataCorruptError("olshausen_field", path, "a HIPS header", "unparseable header") from None


def load_olshausen() -> np.ndarray:
    """The ten pre-whitened 512x512 natural images of Olshausen & Field (1996), sparsenet Tcl set.

    Each file is raw big-endian float32 without header (the shared HIPS ``header`` file
    says 512 rows, 512 cols, 32-bit float; it is checked). Values are roughly zero-mean
    with per-image variance 0.014-0.200 (mean 0.079); ``IMAGES.mat`` of the MATLAB
    sparsenet is scaled to mean variance 0.1 (multiply by ~1.124 to match, an assumption).

    Returns
    -------
    ndarray, float32 (native byte order), shape (10, 512, 512)
    """
    hdr = _read_hips_header(fetch("olshausen_field/sparsenet_tcl_trainset/header"))
    if (hdr["rows"], hdr["cols"], hdr["bits"], hdr["format"]) != (512, 512, 32, 3):
        raise DataCorruptError("olshausen_field", Path("header"), "512x512 float32 (format 3)", str(hdr))
    out = np.empty((10, 512, 512), dtype=np.float32)
    for i in range(10):
        path = fetch(f"olshausen_field/sparsenet_tcl_trainset/image{i}")
        out[i] = np.fromfile(path, dtype=">f4").reshape(512, 512)
    return out


# ---------------------------------------------------------------- super-resolution sets
SR_SETS: tuple[str, ...] = ("Set5", "Set14", "BSD100", "Urban100", "T91")
_T91_ZIP = "sr_benchmarks/T91/T91.zip"


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def load_sr_set(name: str, *, return_names: bool = False):
    """High-resolution (x2 ground-truth) images of a super-resolution benchmark.

    Parameters
    ----------
    name : {"Set5", "Set14", "BSD100", "Urban100", "T91"}
        Set5 (5), Set14 (13: ``img_009`` lenna is held out), BSD100 (100), Urban100 (100,
        **half resolution**: not comparable with published Urban100 numbers), T91 (91
        training BMPs, read from ``T91/T91.zip``; each member is checked against its own
        sha256). Files are ``img_NNN_SRF_2_HR.png`` (SelfExSR release, sides even) and
        ``T91/t1.bmp .. t66.bmp, tt1 .. tt27.bmp`` (natural sort order).
    return_names : bool
        Also return the file names.

    Returns
    -------
    list of ndarray, uint8, shape (H, W, 3)
        Greyscale images (Set14 ``img_003``, bridge) are repeated to three channels.
    """
    from PIL import Image

    if name not in SR_SETS:
        raise ValueError(f"name must be one of {SR_SETS}, got {name!r}")
    images, names = [], []
    if name == "T91":
        path = fetch(_T91_ZIP)
        members = {e.path.split("!", 1)[1]: e for e in entries("sr_benchmarks", members=True)}
        import hashlib

        with zipfile.ZipFile(path) as zf:
            for member in sorted(members, key=_natural_key):
                data = zf.read(member)
                if hashlib.sha256(data).hexdigest() != members[member].sha256:
                    raise DataCorruptError("sr_benchmarks", Path(f"{path}!{member}"), members[member].sha256,
                                           hashlib.sha256(data).hexdigest())
                with Image.open(io.BytesIO(data)) as im:
                    images.append(_to_rgb(np.asarray(im.convert("RGB"))))
                names.append(member.split("/")[-1])
    else:
        for ent in sorted(entries("sr_benchmarks"), key=lambda e: _natural_key(e.path)):
            if not ent.path.startswith(f"sr_benchmarks/{name}/"):
                continue
            with Image.open(fetch(ent.path)) as im:
                images.append(_to_rgb(np.asarray(im)))
            names.append(ent.path.rsplit("/", 1)[1])
    return (images, names) if return_names else images


# ---------------------------------------------------------------- CIFAR-10
#: The ten CIFAR-10 class names, in label order (0-9).
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_CIFAR_DIR = "cifar10/convnetjs_batches"
_CIFAR_TRAIN_BATCHES = tuple(range(50))
_CIFAR_TEST_BATCHES = (50,)
#: The official python pickles (cifar-10-python.tar.gz unpacked), checked by the md5 of
#: :data:`attractorlab.data.registry.USER_FILES_MD5`.
_CIFAR_PICKLE_DIR = "cifar10/cifar-10-batches-py"
_CIFAR_PICKLE_TRAIN = tuple(f"{_CIFAR_PICKLE_DIR}/data_batch_{i}" for i in range(1, 6))
_CIFAR_PICKLE_TEST = f"{_CIFAR_PICKLE_DIR}/test_batch"


def _batch_rel(b: int) -> str:
    return f"{_CIFAR_DIR}/cifar10_batch_{b}.png"


def cifar10_source() -> str:
    """Where :func:`load_cifar10` reads the lossless images from.

    ``"pickle"`` when ``<data root>/cifar10/cifar-10-batches-py/`` exists (the official python
    version: all 50,000 training and 10,000 test images; every file of it must then be there
    and match its md5), else ``"png"`` (the ConvNetJS PNG batches of the shared copy).
    """
    return "pickle" if (data_root() / _CIFAR_PICKLE_DIR).is_dir() else "png"


def cifar10_batches(split: str = "train") -> dict[str, list[int]]:
    """Which 1,000-image batches of ``split`` can be loaded: ``{"present", "not_provided", "missing"}``.

    Train batches are 0-49 (batch B = training images 1000 B .. 1000 B + 999, i.e. rows
    (B mod 10)*1000 .. +999 of ``data_batch_{B//10+1}``); the test batch is 50 (test images
    0-999). With the official pickles (:func:`cifar10_source` ``"pickle"``) every batch is
    present. Otherwise a PNG batch on disk is present; an absent one is "not_provided" when
    the shared copy does not hold it by design (training batches 20-49, see
    :data:`~attractorlab.data.registry.NOT_PROVIDED`: no error) and "missing" otherwise.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    batches = _CIFAR_TRAIN_BATCHES if split == "train" else _CIFAR_TEST_BATCHES
    if cifar10_source() == "pickle":
        return {"present": list(batches), "not_provided": [], "missing": []}
    root = data_root()
    present = [b for b in batches if (root / _batch_rel(b)).is_file()]
    absent = [b for b in batches if b not in present]
    not_provided = [b for b in absent if _batch_rel(b) in _registry.NOT_PROVIDED]
    return {"present": present, "not_provided": not_provided,
            "missing": [b for b in absent if b not in not_provided]}


def cifar10_missing_batches(split: str = "train") -> list[int]:
    """Batch numbers of ``split`` that should be on disk and are not (empty when none is).

    Batches that the shared copy does not provide by design (training batches 20-49) are
    not missing; :func:`cifar10_batches` lists them as ``"not_provided"``.
    """
    return cifar10_batches(split)["missing"]


def cifar10_summary() -> dict:
    """What the CIFAR-10 data under the data root give, without decoding any image.

    Returns
    -------
    dict
        ``source`` ("pickle" or "png", :func:`cifar10_source`), ``n_train`` and ``n_test``
        (lossless images :func:`load_cifar10` returns), ``not_provided`` and ``missing``
        (training batch numbers, see :func:`cifar10_batches`), and ``text``: one line saying so.

    Raises
    ------
    DataMissingError, DataCorruptError
        With the pickles: for the first file that is absent, fails its md5 or is malformed
        (their labels are read to count the images).
    """
    if cifar10_source() == "pickle":
        n_train = sum(len(_read_cifar_pickle(rel)[1]) for rel in _CIFAR_PICKLE_TRAIN)
        n_test = len(_read_cifar_pickle(_CIFAR_PICKLE_TEST)[1])
        return {"source": "pickle", "n_train": n_train, "n_test": n_test, "not_provided": [], "missing": [],
                "text": f"cifar10: {n_train:,} training and {n_test:,} test images, lossless, from the official "
                        f"python pickles in {_CIFAR_PICKLE_DIR}/ (md5 checked)"}
    train, test = cifar10_batches("train"), cifar10_batches("test")
    n_train, n_test = 1000 * len(train["present"]), 1000 * len(test["present"])
    text = (f"cifar10: {n_train:,} training images present (PNG batches {_ranges(train['present']) or 'none'}), "
            f"{n_test:,} lossless test images")
    if train["not_provided"]:
        nb = len(train["not_provided"])
        text += (f"; {nb} batches not provided by the shared copy (training batches "
                 f"{_ranges(train['not_provided'])}, {1000 * nb:,} images: by design, not an error)"
                 "; for all 50,000 put the official cifar-10-batches-py/ folder in <data root>/cifar10/")
    if train["missing"] or test["missing"]:
        text += f"; MISSING batches {_ranges(train['missing'] + test['missing'])}"
    return {"source": "png", "n_train": n_train, "n_test": n_test, "not_provided": train["not_provided"],
            "missing": train["missing"], "text": text}


def _ranges(nums: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    out, start = [], None
    for i, x in enumerate(nums):
        if start is None:
            start = x
        if i + 1 == len(nums) or nums[i + 1] != x + 1:
            out.append(f"{start}" if start == x else f"{start}-{x}")
            start = None
    return ", ".join(out)


def _cifar_labels() -> np.ndarray:
    text = fetch(f"{_CIFAR_DIR}/cifar10_labels.js").read_text(encoding="ascii")
    m = re.search(r"\[([0-9,\s]*)\]", text)
    labels = np.array(json.loads("[" + m.group(1) + "]"), dtype=np.uint8) if m else np.empty(0, np.uint8)
    if labels.shape != (51_000,) or labels.max() > 9:
        raise DataCorruptError("cifar10", Path("cifar10_labels.js"), "51,000 labels 0-9", f"{labels.shape} labels")
    return labels


def _read_cifar_pickle(relpath: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 32, 32, 3) uint8 HWC and labels (n,) uint8 of one official pickle batch.

    The file is checked by md5 first (only then unpickled), then its structure: a dict with
    ``b"data"``, a uint8 array (n, 3072) whose rows are the R, G and B planes (1,024 values
    each, row-major), and ``b"labels"``, n integers 0-9. DataCorruptError names the file otherwise.
    """
    path = fetch(relpath)

    def bad(expected: str, actual: str):
        return DataCorruptError("cifar10", path, expected, actual, what="content")

    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh, encoding="bytes")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise bad("a CIFAR-10 python pickle", f"unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise bad("a dict with keys b'data' and b'labels'", f"{keys}")
    raw, labels = obj[b"data"], obj[b"labels"]
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 2 or raw.shape[1] != 3072:
        desc = f"{raw.dtype} {raw.shape}" if isinstance(raw, np.ndarray) else type(raw).__name__
        raise bad("b'data' a uint8 array (n, 3072)", desc)
    labels = np.asarray(labels)
    if labels.shape != (raw.shape[0],) or labels.dtype.kind not in "iu" or (labels.size and (
            labels.min() < 0 or labels.max() > 9)):
        raise bad(f"b'labels' {raw.shape[0]} integers 0-9", f"{labels.dtype} {labels.shape}")
    images = raw.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # CHW planes -> HWC
    return np.ascontiguousarray(images), labels.astype(np.uint8)


def _load_cifar_pickle(split: str, batches, return_index: bool):
    parts = [_read_cifar_pickle(rel) for rel in (_CIFAR_PICKLE_TRAIN if split == "train" else (_CIFAR_PICKLE_TEST,))]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    idx = np.arange(len(images), dtype=np.int64)
    if batches is not None:  # batch b = images 1000 b .. 1000 b + 999 (test batch 50 = test images 0-999)
        offset = 0 if split == "train" else 50
        keep = np.concatenate([idx[1000 * (b - offset):1000 * (b - offset + 1)] for b in batches]) \
            if len(batches) else np.empty(0, np.int64)
        images, labels, idx = images[keep], labels[keep], idx[keep]
    return (images, labels, idx) if return_index else (images, labels)


def load_cifar10(split: str = "train", *, batches=None, require_complete: bool = False,
                 return_index: bool = False):
    """CIFAR-10 images and labels (Krizhevsky 2009).

    Two sources, picked by :func:`cifar10_source`: the official python pickles when the
    folder ``<data root>/cifar10/cifar-10-batches-py/`` exists (``data_batch_1`` ..
    ``data_batch_5``, ``test_batch``, each checked by its published md5 and its structure:
    all 50,000 training and 10,000 test images, lossless), else the ConvNetJS PNG batches of
    the shared copy (the first 20,000 training images and test images 0-999, lossless;
    training batches 20-49 are not provided by it).

    Parameters
    ----------
    split : {"train", "test", "test_lossy"}
        ``"train"``: the lossless training images available (50,000 from the pickles; from
        the PNG batches, those present, in official order; see :func:`cifar10_batches`).
        ``"test"``: the lossless test images (10,000 from the pickles; images 0-999 from the
        PNG batches). ``"test_lossy"``: all 10,000 test images from
        ``test_jpeg_q75_LOSSY.zip``: JPEG quality 75 (lossy), ordered by class and then by
        their order within the class (the global test order is not recorded); never call
        results on it "CIFAR-10 test" without saying so.
    batches : sequence of int, optional
        1,000-image batches to load instead of all: train 0-49 (images 1000 b .. 1000 b +
        999), test 50 (test images 0-999).
    require_complete : bool
        Raise :class:`DataMissingError` unless all 50,000 training images (``"train"``) are
        available: from the PNG batches, any batch absent, provided by the shared copy or
        not, raises.
    return_index : bool
        Also return each image's global index (train: 0-49,999; test: 0-9,999; test_lossy:
        the rank within its class).

    Returns
    -------
    images : ndarray, uint8, shape (n, 32, 32, 3)
    labels : ndarray, uint8, shape (n,)
        Class 0-9 in the order of :data:`CIFAR10_CLASSES`.
    """
    from PIL import Image

    if split == "test_lossy":
        return _load_cifar_jpeg(return_index)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train', 'test' or 'test_lossy', got {split!r}")
    if batches is not None:
        allowed = _CIFAR_TRAIN_BATCHES if split == "train" else _CIFAR_TEST_BATCHES
        batches = [int(b) for b in batches]
        bad = [b for b in batches if b not in allowed]
        if bad:
            raise ValueError(f"batches must be in {allowed[0]}..{allowed[-1]} for split {split!r}, got {bad}")
    if cifar10_source() == "pickle":
        return _load_cifar_pickle(split, batches, return_index)
    avail = cifar10_batches(split)
    absent = avail["missing"] + avail["not_provided"]
    if batches is None:
        if require_complete and absent:
            fetch(_batch_rel(absent[0]))  # raises DataMissingError naming the file
        wanted = avail["present"]
        if not wanted:
            fetch(_batch_rel(absent[0]))  # none present: raise DataMissingError
    else:
        wanted = batches
    labels_all = _cifar_labels()
    imgs, labs, index = [], [], []
    for b in wanted:
        with Image.open(fetch(_batch_rel(b))) as im:
            arr = np.asarray(im.convert("RGB"))
        if arr.shape != (1000, 1024, 3):
            raise DataCorruptError("cifar10", Path(_batch_rel(b)), "1000x1024 RGB", str(arr.shape), what="content")
        imgs.append(arr.reshape(1000, 32, 32, 3))
        start = 1000 * b
        labs.append(labels_all[start:start + 1000])
        index.append(np.arange(start, start + 1000) - (50_000 if split == "test" else 0))
    images = np.concatenate(imgs) if imgs else np.empty((0, 32, 32, 3), np.uint8)
    labels = np.concatenate(labs) if labs else np.empty(0, np.uint8)
    idx = np.concatenate(index) if index else np.empty(0, np.int64)
    return (images, labels, idx) if return_index else (images, labels)


def _load_cifar_jpeg(return_index: bool):
    from PIL import Image

    path = fetch("cifar10/test_jpeg_q75_LOSSY.zip")
    imgs, labs, ranks = [], [], []
    with zipfile.ZipFile(path) as zf:
        for n in sorted(zf.namelist()):
            m = re.match(r"^test/([a-z]+)/(\d+)\.jpg$", n)
            if not m:
                continue
            with Image.open(io.BytesIO(zf.read(n))) as im:
                imgs.append(np.asarray(im.convert("RGB")))
            labs.append(CIFAR10_CLASSES.index(m.group(1)))
            ranks.append(int(m.group(2)))
    order = np.lexsort((np.array(ranks), np.array(labs)))
    images = np.stack(imgs)[order]
    labels = np.array(labs, dtype=np.uint8)[order]
    idx = np.array(ranks, dtype=np.int64)[order]
    return (images, labels, idx) if return_index else (images, labels)


# ---------------------------------------------------------------- bundled images
#: scikit-image test images shipped inside the scikit-image wheel (no download needed).
BUNDLED_IMAGES: tuple[str, ...] = (
    "camera", "astronaut", "brick", "cell", "chelsea", "coffee", "coins", "grass", "gravel",
    "horse", "moon", "page", "rocket", "text",
)


def bundled_image(name: str = "camera") -> np.ndarray:
    """A grey test image from scikit-image, float64 in [0, 1] (colour images via ``rgb2gray``).

    These need no data folder, so the demo and smoke presets work on a fresh machine.
    ``"camera"`` is the 512x512 cameraman photograph.
    """
    if name not in BUNDLED_IMAGES:
        raise ValueError(f"name must be one of {BUNDLED_IMAGES}, got {name!r}")
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float64

    img = getattr(skimage.data, name)()
    if img.ndim == 3:
        img = rgb2gray(img[..., :3])
    img = img_as_float64(img)
    if img.dtype == bool:
        img = img.astype(np.float64)
    return np.clip(img, 0.0, 1.0)


# ---------------------------------------------------------------- files per loader call
_PARTS = {
    "mnist": ("train", "test"),
    "omniglot": ("background", "evaluation"),
    "olshausen_field": (),
    "sr_benchmarks": SR_SETS,
    "cifar10": ("train", "test", "test_lossy"),
}


def data_files(dataset: str, part: str | None = None) -> list[str]:
    """Registered files (paths relative to the data root) that a loader reads.

    For an experiment's ``check``: ``verify_files(data_files("mnist", "train"))`` checks,
    before any training, every file ``load_mnist("train")`` will read.

    Parameters
    ----------
    dataset : str
        One of ``DATASETS`` (:mod:`attractorlab.data.registry`).
    part : str, optional
        ``"mnist"``: "train" or "test" (:func:`load_mnist`); ``"omniglot"``: "background" or
        "evaluation" (:func:`load_omniglot`); ``"sr_benchmarks"``: a name of ``SR_SETS``
        (:func:`load_sr_set`); ``"cifar10"``: "train" (the labels and the batches present on
        disk, or batch 0 when none is, so that verifying names a missing file; the five
        ``data_batch_N`` pickles when :func:`cifar10_source` is "pickle"), "test" (batch 50 and
        the labels; the ``test_batch`` pickle) or "test_lossy" (:func:`load_cifar10`). None:
        every registered file of the dataset.
        ``"olshausen_field"`` has no parts (:func:`load_olshausen`).

    Raises
    ------
    ValueError
        For an unknown dataset or part, naming the allowed ones.
    """
    if dataset not in _PARTS:
        raise ValueError(f"dataset must be one of {tuple(_PARTS)}, got {dataset!r}")
    if part is None:
        return [e.path for e in entries(dataset)]
    if part not in _PARTS[dataset]:
        allowed = _PARTS[dataset] or "(none: omit part)"
        raise ValueError(f"part must be one of {allowed} for dataset {dataset!r}, got {part!r}")
    if dataset == "mnist":
        return list(_MNIST_FILES[part])
    if dataset == "omniglot":
        return [_OMNI_ZIPS[part]]
    if dataset == "sr_benchmarks":
        if part == "T91":
            return [_T91_ZIP]
        return [e.path for e in entries("sr_benchmarks") if e.path.startswith(f"sr_benchmarks/{part}/")]
    labels = f"{_CIFAR_DIR}/cifar10_labels.js"
    if part == "test_lossy":
        return ["cifar10/test_jpeg_q75_LOSSY.zip"]
    if cifar10_source() == "pickle":
        return list(_CIFAR_PICKLE_TRAIN) if part == "train" else [_CIFAR_PICKLE_TEST]
    avail = cifar10_batches(part)
    return [labels] + [_batch_rel(b) for b in (avail["present"] or (avail["missing"] + avail["not_provided"])[:1])]

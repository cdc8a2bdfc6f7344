"""Data registry, loaders, errors, hash cache and patch sampling.

Tests on real data use the files under the data root (``ATTRACTORLAB_DATA`` or
``../shared/data``) and skip, naming the folder, when a dataset is absent. Expected numbers
(label counts, variances, decoded-array checksums) are copied from each dataset's SOURCE.md,
where they were measured independently of this code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from attractorlab import data
from attractorlab.data import registry as reg
from attractorlab.data._sources import DATASETS, parse_all, parse_source_md

ROOT = data.data_root()


def needs(dataset: str) -> None:
    if not (ROOT / dataset).is_dir():
        pytest.skip(f"dataset {dataset!r} not found under data root {ROOT} (set ATTRACTORLAB_DATA)")


@pytest.fixture
def tmp_root(tmp_path, monkeypatch):
    """An empty data root and cache in tmp_path (ATTRACTORLAB_DATA / ATTRACTORLAB_CACHE point there)."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("ATTRACTORLAB_DATA", str(root))
    monkeypatch.setenv("ATTRACTORLAB_CACHE", str(cache))
    monkeypatch.setattr(reg, "_memo", {})
    return root


def _copy(rel: str, root: Path) -> Path:
    src = ROOT / rel
    if not src.is_file():
        pytest.skip(f"{rel} not found under data root {ROOT}")
    dst = root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


# ---------------------------------------------------------------- registry
def test_registry_is_the_transcription_of_every_source_md():
    present = [d for d in DATASETS if (ROOT / d / "SOURCE.md").is_file()]
    if not present:
        pytest.skip(f"no SOURCE.md under data root {ROOT}")
    parsed = {e.path: e for e in parse_all(ROOT)}
    shipped = {p: e for p, e in reg.registry().items() if e.dataset in present}
    assert parsed == shipped
    counts = {d: len(reg.entries(d)) for d in DATASETS}
    assert counts == {"mnist": 4, "omniglot": 3, "olshausen_field": 11, "sr_benchmarks": 219, "cifar10": 53}
    assert len(reg.entries("sr_benchmarks", members=True)) == 91  # T91.zip members


def test_every_file_on_disk_is_registered():
    registered = set(reg.registry())
    for d in DATASETS:
        if not (ROOT / d).is_dir():
            continue
        for path in (ROOT / d).rglob("*"):
            if path.is_file() and path.name != "SOURCE.md":
                assert path.relative_to(ROOT).as_posix() in registered, path


def test_present_files_verify_and_cifar_batches_20_49_are_not_provided_not_missing():
    needs("mnist")
    missing, not_provided = [], []
    for d in DATASETS:
        for s in reg.dataset_status(d):
            assert s.status != "corrupt", s.message
            if s.status == "missing":
                missing.append(s.entry.path)
            if s.status == "not_provided":
                not_provided.append(s.entry.path)
    assert missing == []
    allowed = {f"cifar10/convnetjs_batches/cifar10_batch_{b}.png" for b in range(20, 50)}
    assert set(not_provided) <= allowed == set(reg.NOT_PROVIDED)


def test_not_provided_files_are_those_cifar10_source_md_says():
    needs("cifar10")
    lines = (ROOT / "cifar10" / "SOURCE.md").read_text(encoding="utf-8").splitlines()
    text = " ".join(" ".join(ln.lstrip("> ") for ln in lines).split())  # block-quote markers dropped
    assert "Batches 20-49 (training images 20,000-49,999) are **not** provided here" in text
    assert sorted(int(p.rsplit("_", 1)[1][:-4]) for p in reg.NOT_PROVIDED) == list(range(20, 50))


def test_absent_batch_outside_not_provided_is_missing(tmp_root):
    _copy("cifar10/convnetjs_batches/cifar10_batch_0.png", tmp_root)
    avail = data.cifar10_batches("train")
    assert avail["present"] == [0] and avail["missing"] == list(range(1, 20))
    assert avail["not_provided"] == list(range(20, 50))
    st = {s.entry.path: s.status for s in reg.dataset_status("cifar10")}
    assert st["cifar10/convnetjs_batches/cifar10_batch_1.png"] == "missing"
    assert st["cifar10/convnetjs_batches/cifar10_batch_20.png"] == "not_provided"


def test_parser_reads_a_table_row_and_the_t91_line():
    text = (
        "### Set5 (HR x2)\n| file | bytes | W×H | sha256 |\n|---|---|---|---|\n"
        f"| img_001_SRF_2_HR.png | 12 | 2×2 | {'a' * 64} |\n### T91\n"
        f"`T91/T91.zip`: 99 bytes, sha256 {'b' * 64}. Members:\n| T91/t1.bmp | 5 | 1×1 | {'c' * 64} |\n"
    )
    got = parse_source_md("sr_benchmarks", text)
    assert [(e.path, e.size) for e in got] == [
        ("sr_benchmarks/Set5/img_001_SRF_2_HR.png", 12),
        ("sr_benchmarks/T91/T91.zip", 99),
        ("sr_benchmarks/T91/T91.zip!T91/t1.bmp", 5),
    ]


# ---------------------------------------------------------------- missing / corrupt
def test_missing_file_error_names_dataset_file_root_and_env(tmp_root):
    with pytest.raises(data.DataMissingError) as info:
        data.fetch("mnist/t10k-labels-idx1-ubyte.gz")
    msg = str(info.value)
    for part in ("'mnist'", "t10k-labels-idx1-ubyte.gz", str(tmp_root), "ATTRACTORLAB_DATA", "MNIST"):
        assert part in msg
    # a loader fails the same way, on the first file it needs
    _copy("mnist/t10k-labels-idx1-ubyte.gz", tmp_root)
    with pytest.raises(data.DataMissingError, match="t10k-images-idx3-ubyte.gz"):
        data.load_mnist("test")


def test_corrupt_file_error_gives_expected_and_actual_sha(tmp_root):
    path = _copy("mnist/t10k-labels-idx1-ubyte.gz", tmp_root)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF  # same size, one byte changed
    path.write_bytes(bytes(raw))
    expected = reg.entry("mnist/t10k-labels-idx1-ubyte.gz").sha256
    actual = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(data.DataCorruptError) as info:
        data.fetch("mnist/t10k-labels-idx1-ubyte.gz")
    assert expected in str(info.value) and actual in str(info.value)
    assert (info.value.expected, info.value.actual) == (expected, actual)
    path.write_bytes(bytes(raw[:-10]))  # truncated
    with pytest.raises(data.DataCorruptError, match="bytes, expected 4542"):
        data.fetch("mnist/t10k-labels-idx1-ubyte.gz")


def test_verified_file_is_not_rehashed_until_it_changes(tmp_root, monkeypatch):
    path = _copy("mnist/t10k-labels-idx1-ubyte.gz", tmp_root)
    calls = []
    real = reg.file_sha256
    monkeypatch.setattr(reg, "file_sha256", lambda p, *a: calls.append(p) or real(p, *a))
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    data.fetch(rel)
    data.fetch(rel)
    assert len(calls) == 1
    monkeypatch.setattr(reg, "_memo", {})  # as in a new process: only the JSON cache remains
    data.fetch(rel)
    assert len(calls) == 1
    cache = json.loads((tmp_root.parent / "cache" / "verified_sha256.json").read_text())
    assert cache[str(path.resolve())]["sha256"] == reg.entry(rel).sha256
    assert not [p for p in (tmp_root.parent / "cache").iterdir() if p.name.endswith(".tmp")]
    # a modified file (new mtime) is hashed again, and a corruption is caught
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    data.fetch(rel)
    assert len(calls) == 2
    path.write_bytes(path.read_bytes()[::-1])
    with pytest.raises(data.DataCorruptError):
        data.fetch(rel)


# ---------------------------------------------------------------- loaders on real files
def test_mnist_shapes_and_label_counts():
    needs("mnist")
    x, y = data.load_mnist("train")
    assert x.shape == (60_000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
    # per-class counts from mnist/SOURCE.md (official MNIST)
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    xt, yt = data.load_mnist("test")
    assert xt.shape == (10_000, 28, 28)
    assert np.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x.max() == 255 and x.min() == 0 and 0.1 < (x > 0).mean() < 0.25
    with pytest.raises(ValueError, match="split"):
        data.load_mnist("validation")


def test_omniglot_background_labels_and_images():
    needs("omniglot")
    om = data.load_omniglot("background")
    assert len(om) == 19_280 and om.images.shape == (19_280, 105, 105) and om.images.dtype == bool
    assert len(set(om.alphabet)) == 30 and om.character.max() == 963
    assert (np.bincount(om.character) == 20).all()
    assert set(om.drawer.tolist()) == set(range(1, 21))
    ink = om.images.mean(axis=(1, 2))
    assert (ink > 0).all() and 0.02 < ink.mean() < 0.2  # strokes (True) are a minority of pixels
    # labels agree with the member names
    i = 12_345
    alpha, char_folder, fname = om.names[i].split("/")[1:]
    assert om.alphabet[i] == alpha and om.character_in_alphabet[i] == int(char_folder[9:])
    assert om.drawer[i] == int(fname[5:7])


def test_omniglot_split_sizes_disjoint_stratified_deterministic():
    needs("omniglot")
    tr, te = data.omniglot_split(seed=0)
    assert (len(tr), len(te)) == (15_424, 3_856)
    assert np.intersect1d(tr, te).size == 0
    assert np.array_equal(np.union1d(tr, te), np.arange(19_280))
    tr2, te2 = data.omniglot_split(seed=0)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    assert not np.array_equal(te, data.omniglot_split(seed=1)[1])
    _, _, labels = data.loaders._omniglot_index("background")
    assert (np.bincount(labels["character"][te]) == 4).all()


def test_omniglot_evaluation_set():
    needs("omniglot")
    _, names, labels = data.loaders._omniglot_index("evaluation")
    assert len(names) == 13_180 and labels["character"].max() == 658
    assert len(set(labels["alphabet"])) == 20


def test_olshausen_images():
    needs("olshausen_field")
    imgs = data.load_olshausen()
    assert imgs.shape == (10, 512, 512) and imgs.dtype == np.float32 and imgs.dtype.isnative
    assert np.isfinite(imgs).all()
    assert abs(float(imgs.mean())) < 0.01
    # per-image variances listed in olshausen_field/SOURCE.md
    np.testing.assert_allclose(
        imgs.var(axis=(1, 2)), [0.099, 0.042, 0.077, 0.072, 0.200, 0.100, 0.080, 0.058, 0.047, 0.014], atol=6e-4
    )


@pytest.mark.parametrize("name,count", [("Set5", 5), ("Set14", 13), ("T91", 91)])
def test_sr_sets(name, count):
    needs("sr_benchmarks")
    imgs, names = data.load_sr_set(name, return_names=True)
    assert len(imgs) == count == len(names)
    for im in imgs:
        assert im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3
    if name == "Set5":
        assert imgs[0].shape == (512, 512, 3) and all(im.shape[0] % 2 == 0 == im.shape[1] % 2 for im in imgs)
    if name == "Set14":
        assert "img_009_SRF_2_HR.png" not in names  # lenna held out
        grey = imgs[names.index("img_003_SRF_2_HR.png")]
        assert np.array_equal(grey[..., 0], grey[..., 2])
    if name == "T91":
        assert names[:3] == ["t1.bmp", "t2.bmp", "t3.bmp"] and names[-1] == "tt27.bmp"
        assert imgs[0].shape == (176, 197, 3)  # t1.bmp is 197x176 (W x H)
    with pytest.raises(ValueError, match="Set5"):
        data.load_sr_set("set5")


def test_cifar10_lossless_test_matches_published_checksum():
    needs("cifar10")
    x, y = data.load_cifar10("test")
    assert x.shape == (1000, 32, 32, 3) and x.dtype == np.uint8
    # decoded-array sha256 and label counts from cifar10/SOURCE.md
    assert hashlib.sha256(x.tobytes()).hexdigest() == (
        "da362006b99671213d1a5d856cab2bedf64d40bad4501630ee60f4ceb2d3ec7f")
    assert np.bincount(y).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]


def test_cifar10_train_present_batches():
    needs("cifar10")
    avail = data.cifar10_batches("train")
    assert sorted(avail["present"] + avail["not_provided"] + avail["missing"]) == list(range(50))
    assert data.cifar10_missing_batches() == avail["missing"]
    summary = data.cifar10_summary()
    assert summary["n_train"] == 1000 * len(avail["present"]) and summary["not_provided"] == avail["not_provided"]
    if 0 not in avail["present"]:
        pytest.skip("cifar10 train batch 0 absent")
    x, y, idx = data.load_cifar10("train", batches=range(10), return_index=True)
    assert x.shape == (10_000, 32, 32, 3) and np.array_equal(idx, np.arange(10_000))
    # data_batch_1 in the official row layout (R plane, G, B): MD5 from SOURCE.md
    rows = x.transpose(0, 3, 1, 2).reshape(10_000, 3072)
    assert hashlib.md5(rows.tobytes()).hexdigest() == "e089133f4b27fe2499933fb92fbbcc51"
    assert np.bincount(y).tolist() == [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]
    absent = avail["missing"] + avail["not_provided"]
    if absent:
        with pytest.raises(data.DataMissingError, match=f"cifar10_batch_{absent[0]}.png"):
            data.load_cifar10("train", require_complete=True)
    with pytest.raises(ValueError, match="batches"):
        data.load_cifar10("train", batches=[50])


def test_cifar10_full_train_checksum_when_complete():
    needs("cifar10")
    avail = data.cifar10_batches("train")
    if avail["missing"] or avail["not_provided"]:
        n_absent = len(avail["missing"] + avail["not_provided"])
        pytest.skip(f"{n_absent} of 50 cifar10 train batches not in {ROOT / 'cifar10'} (the shared copy keeps 20)")
    x, y = data.load_cifar10("train", require_complete=True)
    assert x.shape == (50_000, 32, 32, 3) and (np.bincount(y) == 5000).all()
    assert hashlib.sha256(x.tobytes()).hexdigest() == (
        "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a")


def test_cifar10_lossy_jpeg_test_set_pairs_with_lossless_images():
    needs("cifar10")
    xj, yj, rank = data.load_cifar10("test_lossy", return_index=True)
    assert xj.shape == (10_000, 32, 32, 3) and (np.bincount(yj) == 1000).all()
    x, y = data.load_cifar10("test")
    cats = np.flatnonzero(y == 3)[:5]  # the first 5 lossless cats are cat JPEGs 0..4
    for r, i in enumerate(cats):
        j = np.flatnonzero((yj == 3) & (rank == r))[0]
        mse = np.mean((xj[j].astype(float) - x[i].astype(float)) ** 2)
        assert 10 * np.log10(255**2 / mse) > 20  # q75 JPEG of the same image


def test_bundled_image():
    img = data.bundled_image("camera")
    assert img.shape == (512, 512) and img.dtype == np.float64 and 0 <= img.min() and img.max() <= 1
    assert data.bundled_image("astronaut").ndim == 2
    with pytest.raises(ValueError, match="camera"):
        data.bundled_image("lena")


def test_v1_nxny_constants_match_source_md():
    counts, edges, cite = data.load_v1_nxny()
    assert counts.shape == (5, 5) and counts.dtype.kind == "i" and counts.sum() == 79
    assert counts.sum(axis=1).tolist() == [3, 22, 42, 12, 0]
    assert counts.sum(axis=0).tolist() == [11, 11, 25, 25, 7]
    np.testing.assert_allclose(edges, [0.1, 0.1738, 0.3020, 0.5248, 0.9120, 1.5849], atol=1e-4)
    assert "Ringach" in cite
    src = ROOT / "v1_receptive_fields" / "SOURCE.md"
    if src.is_file():
        lines = [ln.strip() for ln in src.read_text(encoding="utf-8").splitlines()]
        rows = [ln for ln in lines if ln.startswith(("| 0.", "| 1."))]
        table = [[int(c) for c in ln.strip("|").split("|")[1:6]] for ln in rows[:5]]
        assert table == counts.tolist()


# ---------------------------------------------------------------- patches
def test_patches_split_sign_unit_std_and_determinism(rng):
    img = rng.standard_normal((40, 50)).cumsum(axis=1)
    k, n = 6, 500
    x = data.sample_patches(img, k, n, seed=3)
    assert x.shape == (n, 2 * k * k) and x.dtype == np.float64 and (x >= 0).all()
    pos, neg = x[:, : k * k], x[:, k * k:]
    assert not np.any((pos > 0) & (neg > 0))
    signed = data.hoyer_merge(x)
    np.testing.assert_allclose(signed.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(signed.std(axis=1), 1, rtol=1e-12)
    assert np.array_equal(x, data.sample_patches(img, k, n, seed=3))
    assert not np.array_equal(x, data.sample_patches(img, k, n, seed=4))
    raw = data.sample_patches(img, k, n, seed=3, remove_mean=False, normalize=None, split_sign=False)
    assert raw.shape == (n, k * k)
    # every raw patch is a k x k window of the image
    win = np.lib.stride_tricks.sliding_window_view(img, (k, k)).reshape(-1, k * k)
    assert all(np.any(np.all(win == p, axis=1)) for p in raw[:20])
    l2 = data.sample_patches([img, img[:20, :20]], k, 50, seed=0, normalize="l2", split_sign=False)
    np.testing.assert_allclose(np.linalg.norm(l2, axis=1), 1, rtol=1e-12)


def test_patches_same_from_stack_and_per_image_loop(rng, monkeypatch):
    from attractorlab.data import patches

    imgs = [rng.random((30, 40)), rng.random((30, 40)), (rng.random((30, 40)) > 0.5)]
    stacked = data.sample_patches(imgs, 5, 300, seed=7)
    monkeypatch.setattr(patches, "_STACK_MAX", 0)  # force the per-image loop
    assert np.array_equal(stacked, data.sample_patches(imgs, 5, 300, seed=7))
    # images of different sizes: positions stay inside each image
    mixed = data.sample_patches([rng.random((9, 9)), rng.random((50, 7))], 7, 200, seed=1, split_sign=False)
    assert mixed.shape == (200, 49) and np.isfinite(mixed).all()


def test_patches_skip_flat_and_reject_bad_input(rng):
    img = np.zeros((32, 32))
    img[:, 24:] = rng.random((32, 8))  # mostly flat: most windows have zero std
    x = data.sample_patches(img, 4, 200, seed=0, split_sign=False)
    np.testing.assert_allclose(x.std(axis=1), 1, rtol=1e-12)
    with pytest.raises(ValueError, match="too flat"):
        data.sample_patches(np.ones((16, 16)), 4, 10, seed=0)
    with pytest.raises(ValueError, match="normalize"):
        data.sample_patches(img, 4, 10, normalize="max")
    with pytest.raises(ValueError, match="k"):
        data.sample_patches(img, 40, 10)
    with pytest.raises(ValueError, match="images"):
        data.sample_patches(np.zeros((2, 3, 4, 5)), 2, 1)

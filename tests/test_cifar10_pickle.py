"""CIFAR-10 from the official python pickles (``<data root>/cifar10/cifar-10-batches-py/``).

The official files are 30 MB each and not in the shared data, so these tests write a small
folder of the same format (20 images per batch) in a temporary data root and put its md5s in
the registry's table (monkeypatched), exactly as the published md5s are used for real files.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from attractorlab import data
from attractorlab.data import registry as reg

N_PER = 20  # images per pickle batch here (10,000 in the official files)
NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


@pytest.fixture
def pickle_root(tmp_path, monkeypatch):
    """A data root holding only cifar10/cifar-10-batches-py/ with 6 small batches; the md5 table
    points at them. Returns (root, {name: (rows uint8 (N_PER, 3072), labels)})."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    monkeypatch.setenv("ATTRACTORLAB_DATA", str(root))
    monkeypatch.setenv("ATTRACTORLAB_CACHE", str(cache))
    monkeypatch.setattr(reg, "_memo", {})
    rng = np.random.default_rng(7)
    content, table = {}, {}
    for name in NAMES:
        rows = rng.integers(0, 256, size=(N_PER, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=N_PER)]  # a list of ints, as in the official files
        blob = {b"batch_label": name.encode(), b"labels": labels, b"data": rows,
                b"filenames": [f"img_{i}.png".encode() for i in range(N_PER)]}
        path = folder / name
        path.write_bytes(pickle.dumps(blob, protocol=2))
        content[name] = (rows, np.asarray(labels, dtype=np.uint8))
        table[f"cifar10/cifar-10-batches-py/{name}"] = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setattr(reg, "USER_FILES_MD5", table)
    return root, content


def _rewrite(root: Path, name: str, blob, monkeypatch) -> None:
    """Replace one pickle by ``blob`` and put its md5 in the table (a well-checksummed but malformed file)."""
    path = root / "cifar10" / "cifar-10-batches-py" / name
    path.write_bytes(pickle.dumps(blob, protocol=2))
    table = dict(reg.USER_FILES_MD5)
    table[f"cifar10/cifar-10-batches-py/{name}"] = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setattr(reg, "USER_FILES_MD5", table)


def test_official_md5_table_is_torchvisions():
    # the published checksums (torchvision's CIFAR10.train_list / test_list)
    assert reg.USER_FILES_MD5 == {
        "cifar10/cifar-10-batches-py/data_batch_1": "c99cafc152244af753f735de768cd75f",
        "cifar10/cifar-10-batches-py/data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "cifar10/cifar-10-batches-py/data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "cifar10/cifar-10-batches-py/data_batch_4": "634d18415352ddfa80567beed471001a",
        "cifar10/cifar-10-batches-py/data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "cifar10/cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
    }


def test_pickle_folder_gives_every_image_in_order_with_chw_planes(pickle_root):
    root, content = pickle_root
    assert data.cifar10_source() == "pickle"
    x, y, idx = data.load_cifar10("train", return_index=True)
    rows = np.concatenate([content[n][0] for n in NAMES[:5]])
    labels = np.concatenate([content[n][1] for n in NAMES[:5]])
    assert x.shape == (5 * N_PER, 32, 32, 3) and x.dtype == np.uint8
    assert np.array_equal(y, labels) and np.array_equal(idx, np.arange(5 * N_PER))
    # pixel (row r, column c) of colour k is entry k * 1024 + 32 r + c of the pickle row
    for i, r, c, k in [(0, 0, 0, 0), (3, 5, 17, 1), (41, 31, 2, 2), (99, 31, 31, 0)]:
        assert x[i, r, c, k] == rows[i, k * 1024 + 32 * r + c]
    xt, yt = data.load_cifar10("test")
    assert np.array_equal(xt.transpose(0, 3, 1, 2).reshape(N_PER, 3072), content["test_batch"][0])
    assert np.array_equal(yt, content["test_batch"][1])
    # the CBAN image tensors: CHW in [-1, 1]
    from attractorlab.models.cban.datasets import cifar10_images

    t = cifar10_images("train")
    assert tuple(t.shape) == (5 * N_PER, 3, 32, 32)
    np.testing.assert_allclose(t.numpy(), rows.reshape(-1, 3, 32, 32) / 127.5 - 1.0, atol=1e-6)
    # batch numbers keep their meaning (batch b = training images 1000 b ..), and the set is complete
    assert data.cifar10_batches("train") == {"present": list(range(50)), "not_provided": [], "missing": []}
    xb, _ = data.load_cifar10("train", batches=[0])
    assert np.array_equal(xb, x[:1000])
    assert len(data.load_cifar10("train", require_complete=True)[0]) == 5 * N_PER
    summary = data.cifar10_summary()
    assert summary["source"] == "pickle" and not summary["missing"] and not summary["not_provided"]
    assert (summary["n_train"], summary["n_test"]) == (5 * N_PER, N_PER)
    # an experiment's check verifies the pickles it will read
    files = data.data_files("cifar10", "train")
    assert files == [f"cifar10/cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
    assert data.verify_files(files) == [root / f for f in files]


def test_pickle_files_are_checked_by_md5_and_named(pickle_root, monkeypatch):
    root, _ = pickle_root
    path = root / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataCorruptError, match=r"data_batch_3.*expected md5 [0-9a-f]{32}, actual md5") as info:
        data.load_cifar10("train")
    assert info.value.actual == hashlib.md5(bytes(raw)).hexdigest()
    statuses = {s.entry.path.rsplit("/", 1)[1]: s.status for s in data.dataset_status("cifar10")
                if "batches-py" in s.entry.path}
    assert statuses == {**{n: "ok" for n in NAMES}, "data_batch_3": "corrupt"}
    # the published table refuses the files written here
    monkeypatch.setattr(reg, "USER_FILES_MD5", dict(zip(reg.USER_FILES_MD5, [
        "c99cafc152244af753f735de768cd75f", "d4bba439e000b95fd0a9bffe97cbabec", "54ebc095f3ab1f0389bbae665268c751",
        "634d18415352ddfa80567beed471001a", "482c414d41f54cd18b22e5b47cb7c3cb", "40351d587109b95175f43aff81a1287e"])))
    monkeypatch.setattr(reg, "_memo", {})
    with pytest.raises(data.DataCorruptError, match="data_batch_1.*c99cafc152244af753f735de768cd75f"):
        data.load_cifar10("train")


def test_missing_pickle_file_is_named(pickle_root):
    root, _ = pickle_root
    (root / "cifar10" / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(data.DataMissingError, match="test_batch.*cifar-10-python.tar.gz"):
        data.load_cifar10("test")
    st = [s for s in data.dataset_status("cifar10") if s.entry.path.endswith("test_batch")]
    assert [s.status for s in st] == ["missing"]


@pytest.mark.parametrize("blob,what", [
    ({b"labels": [0] * N_PER}, "b'data'"),
    ({b"data": np.zeros((N_PER, 3072), np.float32), b"labels": [0] * N_PER}, "uint8"),
    ({b"data": np.zeros((N_PER, 1024), np.uint8), b"labels": [0] * N_PER}, "3072"),
    ({b"data": np.zeros((N_PER, 3072), np.uint8), b"labels": [0] * (N_PER - 1)}, "labels"),
    ({b"data": np.zeros((N_PER, 3072), np.uint8), b"labels": [10] * N_PER}, "0-9"),
    ([1, 2, 3], "dict"),
])
def test_malformed_pickle_is_refused_naming_the_file(pickle_root, monkeypatch, blob, what):
    root, _ = pickle_root
    _rewrite(root, "data_batch_2", blob, monkeypatch)
    with pytest.raises(data.DataCorruptError) as info:
        data.load_cifar10("train")
    assert "data_batch_2" in str(info.value) and what in str(info.value)


def test_cifar10_experiment_reports_images_used_not_missing_batches(pickle_root, tmp_path):
    from attractorlab.experiments import run_experiment

    ov = dict(variants=["cban", "cd_vae"], epochs=1, n_train=40, n_test=8, n_test_lossy=0, n_monitor=0, n_trace=0,
              n_examples=2, workers=1, cycle_check=False)
    ds = run_experiment("cban_cifar10", "smoke", overrides=ov, out_dir=tmp_path / "run")
    assert ds.attrs["n_train_images"] == 40 and ds.attrs["n_test_images"] == 8
    assert ds.attrs["data_source"] == "pickle" and ds.attrs["n_train_available"] == 5 * N_PER
    assert ds.attrs["n_test_available"] == N_PER
    assert not [k for k in ds.attrs if "missing" in k]

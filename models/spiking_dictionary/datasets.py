"""The three data sets of Lin & Tang (2019, §4) and a planted-dictionary generator for tests.

=======  ===============================================  =====  =====  ========  ======
name     data                                             M      N      train     test
=======  ===============================================  =====  =====  ========  ======
A        random 8x8 patches of a grey photograph           128    256    100,000   10,000
B        MNIST digits scaled to [0, 1] (not split)         784    512     50,000   10,000
C        random 16x16 patches of the whitened              512   1024    200,000   10,000
         Olshausen & Field natural scenes
=======  ===============================================  =====  =====  ========  ======

A and C patches are mean-subtracted, scaled to unit standard deviation per patch and
split into positive and negative channels ``[max(p, 0); max(-p, 0)]`` (Hoyer 2004; the
paper's footnote 4, PAPERS I.7(5)), so M = 2 k^2. The paper used Lena for A, which is not
redistributable; the default here is scikit-image's "camera" (512 x 512), and any grey
image file can be passed instead. Test sets are separate draws: another seed for the
patch positions of A and C (positions may coincide with training positions, as in the
paper's single-image setting), the MNIST test set for B.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

__all__ = ["LinTangData", "DATASET_SPECS", "load_lin_tang_dataset", "planted_dictionary_data", "load_grey_image"]


#: Paper sizes per data set: patch size (None for MNIST), atoms, train and test samples.
DATASET_SPECS: dict[str, dict] = {
    "A": {"patch": 8, "n_atoms": 256, "n_train": 100_000, "n_test": 10_000, "split_sign": True},
    "B": {"patch": None, "n_atoms": 512, "n_train": 50_000, "n_test": 10_000, "split_sign": False},
    "C": {"patch": 16, "n_atoms": 1024, "n_train": 200_000, "n_test": 10_000, "split_sign": True},
}


@dataclasses.dataclass(frozen=True)
class LinTangData:
    """Training and test signals of one Lin & Tang data set.

    Attributes
    ----------
    name : str
        "A", "B", "C" or "planted".
    X_train, X_test : (P, M) float64 arrays, non-negative
        Signals in rows.
    n_atoms : int
        Dictionary size used by the paper for this data set.
    image_shape : (int, int)
        Shape of one (signed) patch or image, for displaying atoms.
    split_sign : bool
        Whether signals are ``[positive part; negative part]`` of a signed patch
        (atoms are then displayed as positive minus negative half).
    source : str
        Where the data came from.
    """

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    n_atoms: int
    image_shape: tuple[int, int]
    split_sign: bool
    source: str

    @property
    def n_input(self) -> int:
        return int(self.X_train.shape[1])


def load_grey_image(image: str | Path | np.ndarray | None = None) -> np.ndarray:
    """A grey image in [0, 1] as float64 (H, W).

    Parameters
    ----------
    image : None, str, Path or array
        None gives scikit-image's "camera" (via ``attractorlab.data.bundled_image``);
        a string that names a scikit-image data photograph (e.g. ``"astronaut"``,
        ``"coffee"``, ``"moon"``) or a path to an image file (colour is converted to grey);
        or an array (uint8 in 0-255, or float in [0, 1]).
    """
    if image is None:
        from attractorlab.data import bundled_image

        return np.asarray(bundled_image("camera"), dtype=np.float64)
    if isinstance(image, np.ndarray):
        img = image
    else:
        path = Path(image)
        if path.suffix and path.exists():
            from skimage import io

            img = io.imread(str(path))
        else:
            from attractorlab.data import BUNDLED_IMAGES, bundled_image

            name = str(image)
            if name in BUNDLED_IMAGES:
                return np.asarray(bundled_image(name), dtype=np.float64)
            import skimage.data

            if not hasattr(skimage.data, name):
                raise ValueError(
                    f"image must be None, an image file path or a scikit-image data name, got {image!r} "
                    "(no such file and no skimage.data function of that name)"
                )
            img = getattr(skimage.data, name)()
    img = np.asarray(img)
    if img.ndim == 3:
        from skimage.color import rgb2gray

        img = rgb2gray(img[..., :3])
    elif img.ndim != 2:
        raise ValueError(f"image must be 2-D grey or 3-D colour, got shape {img.shape}")
    img = img.astype(np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    return img


def load_lin_tang_dataset(
    name: str,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    image: str | Path | np.ndarray | None = None,
) -> LinTangData:
    """Load data set A, B or C of Lin & Tang (2019) (sizes default to the paper's).

    Parameters
    ----------
    name : {"A", "B", "C"}
    n_train, n_test : int, optional
        Numbers of training and test signals (paper: see :data:`DATASET_SPECS`).
    seed : int
        Seed of the patch positions (A, C; the test set uses ``seed + 1``) or of the choice
        of MNIST training images (B: a random subset of the 60,000 when ``n_train < 60000``).
    image : optional
        Data set A's image (see :func:`load_grey_image`); default scikit-image "camera".

    Returns
    -------
    LinTangData
    """
    if name not in DATASET_SPECS:
        raise ValueError(f"name must be one of {sorted(DATASET_SPECS)}, got {name!r}")
    spec = DATASET_SPECS[name]
    n_train = spec["n_train"] if n_train is None else int(n_train)
    n_test = spec["n_test"] if n_test is None else int(n_test)
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1, got {n_train}, {n_test}")
    if image is not None and name != "A":
        raise ValueError(f"image applies only to data set 'A', got name={name!r}")

    if name == "B":
        from attractorlab.data import load_mnist

        train, _ = load_mnist("train")
        test, _ = load_mnist("test")
        if n_train > len(train) or n_test > len(test):
            raise ValueError(f"MNIST has {len(train)} training and {len(test)} test images; "
                             f"asked for n_train={n_train}, n_test={n_test}")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(train), n_train, replace=False)) if n_train < len(train) else np.arange(n_train)
        Xtr = train[idx].reshape(n_train, -1).astype(np.float64) / 255.0
        Xte = test[:n_test].reshape(n_test, -1).astype(np.float64) / 255.0
        return LinTangData("B", Xtr, Xte, spec["n_atoms"], (28, 28), False, "MNIST (LeCun et al. 1998)")

    from attractorlab.data import sample_patches

    k = spec["patch"]
    if name == "A":
        images = load_grey_image(image)
        source = "grey image " + ("skimage camera" if image is None else
                                  (str(image) if not isinstance(image, np.ndarray) else "array"))
    else:
        from attractorlab.data import load_olshausen

        images = np.asarray(load_olshausen(), dtype=np.float64)
        source = "whitened natural scenes (Olshausen & Field 1996)"
    Xtr = sample_patches(images, k, n_train, seed)
    Xte = sample_patches(images, k, n_test, seed + 1)
    return LinTangData(name, np.asarray(Xtr, dtype=np.float64), np.asarray(Xte, dtype=np.float64),
                       spec["n_atoms"], (k, k), True, source)


def planted_dictionary_data(
    n_input: int,
    n_atoms: int,
    n_samples: int,
    *,
    n_active: int = 3,
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Signals made from a known non-negative sparse dictionary (test oracle).

    Each planted atom is non-negative with unit norm and supported on a random quarter of
    the pixels (so atoms are distinguishable); each signal is the sum of ``n_active`` atoms
    chosen at random with coefficients uniform in [1, 2], plus optional Gaussian noise
    clipped at 0.

    Returns
    -------
    X : (n_samples, n_input) array of signals, D : (n_input, n_atoms) planted dictionary.
    """
    if n_input < 2 or n_atoms < 1 or n_samples < 1:
        raise ValueError(f"need n_input >= 2, n_atoms >= 1, n_samples >= 1; got {n_input}, {n_atoms}, {n_samples}")
    if not 1 <= n_active <= n_atoms:
        raise ValueError(f"n_active must be in [1, n_atoms={n_atoms}], got {n_active}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    D = rng.uniform(0.0, 1.0, size=(n_input, n_atoms))
    support = max(2, n_input // 4)
    for j in range(n_atoms):
        off = rng.choice(n_input, n_input - support, replace=False)
        D[off, j] = 0.0
    D /= np.linalg.norm(D, axis=0, keepdims=True)
    A = np.zeros((n_atoms, n_samples))
    for p in range(n_samples):
        A[rng.choice(n_atoms, n_active, replace=False), p] = rng.uniform(1.0, 2.0, n_active)
    X = np.ascontiguousarray((D @ A).T)
    if noise > 0:
        X = np.maximum(X + noise * rng.standard_normal(X.shape), 0.0)
    return X, D

"""Data: sha256-checked registry, loaders and patch sampling.

Every file of the shared datasets is listed in ``registry.txt`` (generated from each
dataset's ``SOURCE.md``) with its size and sha256; loaders refuse a missing file
(:class:`DataMissingError`) or a changed one (:class:`DataCorruptError`). The data root is
``$ATTRACTORLAB_DATA`` (default ``../shared/data`` next to the repository when it exists,
else ``~/.cache/attractorlab``); verified hashes and decoded arrays are cached under
``$ATTRACTORLAB_CACHE`` (default ``~/.cache/attractorlab``).

>>> from attractorlab.data import load_mnist, sample_patches, bundled_image
>>> X = sample_patches(bundled_image("camera"), k=8, n=1000, seed=0)   # (1000, 128), >= 0
"""

from attractorlab.data.loaders import (
    BUNDLED_IMAGES,
    CIFAR10_CLASSES,
    SR_SETS,
    OmniglotSet,
    bundled_image,
    cifar10_batches,
    data_files,
    cifar10_missing_batches,
    cifar10_source,
    cifar10_summary,
    load_cifar10,
    load_mnist,
    load_olshausen,
    load_omniglot,
    load_sr_set,
    omniglot_sample,
    omniglot_split,
)
from attractorlab.data.patches import hoyer_merge, hoyer_split, sample_patches
from attractorlab.data.registry import (
    DATASETS,
    DataCorruptError,
    DataError,
    DataMissingError,
    DataRootError,
    cache_dir,
    check_data_root,
    data_root,
    dataset_status,
    fetch,
    verify_files,
)
from attractorlab.data.report import data_report
from attractorlab.data.v1 import V1NxNy, load_v1_nxny

__all__ = [
    "BUNDLED_IMAGES",
    "CIFAR10_CLASSES",
    "DATASETS",
    "SR_SETS",
    "DataCorruptError",
    "DataError",
    "DataMissingError",
    "DataRootError",
    "OmniglotSet",
    "V1NxNy",
    "bundled_image",
    "cache_dir",
    "check_data_root",
    "cifar10_batches",
    "cifar10_missing_batches",
    "cifar10_source",
    "cifar10_summary",
    "data_files",
    "data_report",
    "data_root",
    "dataset_status",
    "fetch",
    "hoyer_merge",
    "hoyer_split",
    "load_cifar10",
    "load_mnist",
    "load_olshausen",
    "load_omniglot",
    "load_sr_set",
    "load_v1_nxny",
    "omniglot_sample",
    "omniglot_split",
    "sample_patches",
    "verify_files",
]

"""Digit images for the auxiliary quine (chapter 4), with no download.

* ``load_digits_split``: scikit-learn's bundled 8 x 8 handwritten digits
  (1,797 images, shipped inside the package), pixels scaled from 0..16 to
  0..1, with a fixed, stratified train/test split.
* ``read_idx`` / ``load_mnist``: a real reader for MNIST's IDX files (raw or
  gzipped), used when the reader points at a folder holding the four
  standard files.  The IDX format: two zero bytes, a type code (0x08 for
  unsigned bytes), the number of dimensions, then each dimension as a
  big-endian 32-bit integer, then the data.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from .checks import QuineInputError

__all__ = ["IDXError", "read_idx", "write_idx", "load_mnist", "load_digits_split", "MNIST_FILES"]

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
           0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(QuineInputError):
    """An IDX file that cannot be read: wrong magic number, truncated, or inconsistent."""


def _open(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path) -> np.ndarray:
    """Read one IDX file (raw or gzipped) into a numpy array of its declared shape and type."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no IDX file at {path}")
    try:
        with _open(path) as fh:
            data = fh.read()
    except (OSError, EOFError) as err:
        raise IDXError(f"{path}: cannot be read (truncated gzip?): {err}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise IDXError(f"{path}: wrong magic number {data[:4].hex() if len(data) >= 4 else data.hex()!r}; "
                       "an IDX file starts with 00 00, a type code and the number of dimensions")
    dtype, ndim = np.dtype(_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise IDXError(f"{path}: the header promises {expected} bytes of data for shape {shape}, "
                       f"the file holds {len(data) - header} (truncated or corrupted)")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    """Write an array as an IDX file (the tests use this to make small MNIST-like files)."""
    array = np.ascontiguousarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise IDXError(f"IDX cannot store dtype {array.dtype}")
    code = codes[native]
    big = array.astype(np.dtype(_DTYPES[code]).newbyteorder(">"))
    payload = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload += big.tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        fh.write(payload)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder} has no {stem} (or {stem}.gz): download MNIST's four IDX files there")


def load_mnist(folder) -> dict[str, torch.Tensor]:
    """The four standard MNIST files from ``folder``: images as float32 in 0..1, labels as int64."""
    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    out = {}
    for key, stem in MNIST_FILES.items():
        arr = read_idx(_find(folder, stem))
        if key.endswith("images"):
            if arr.ndim != 3 or arr.dtype != np.uint8:
                raise IDXError(f"{stem}: expected uint8 images of shape (n, rows, cols), got {arr.dtype} {arr.shape}")
            out[key] = torch.from_numpy(arr.astype(np.float32) / 255.0)
        else:
            if arr.ndim != 1 or arr.dtype != np.uint8:
                raise IDXError(f"{stem}: expected a uint8 vector of labels, got {arr.dtype} {arr.shape}")
            out[key] = torch.from_numpy(arr.astype(np.int64))
    for split in ("train", "test"):
        if len(out[f"{split}_images"]) != len(out[f"{split}_labels"]):
            raise IDXError(f"{split}: {len(out[f'{split}_images'])} images but {len(out[f'{split}_labels'])} labels")
    return out


def load_digits_split(test_fraction: float = 0.25, seed: int = 0) -> dict[str, torch.Tensor]:
    """scikit-learn's 8 x 8 digits, pixels / 16 in 0..1, a fixed stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise QuineInputError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    digits = load_digits()
    x = digits.images.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    return {"train_images": torch.from_numpy(xtr), "train_labels": torch.from_numpy(ytr),
            "test_images": torch.from_numpy(xte), "test_labels": torch.from_numpy(yte)}

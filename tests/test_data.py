"""Digit data with no download: scikit-learn's digits, and a real IDX (MNIST) reader."""

import gzip

import numpy as np
import pytest
import torch

from quinelib.data import MNIST_FILES, IDXError, load_digits_split, load_mnist, read_idx, write_idx


def make_mnist(folder, n_train=5, n_test=3, compress=False):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, stem in MNIST_FILES.items():
        write_idx(folder / (stem + (".gz" if compress else "")), arrays[key], compress=compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_loader_reads_the_four_files(tmp_path, compress):
    arrays = make_mnist(tmp_path, compress=compress)
    data = load_mnist(tmp_path)
    assert data["train_images"].shape == (5, 28, 28) and data["train_images"].dtype == torch.float32
    assert data["test_labels"].shape == (3,) and data["test_labels"].dtype == torch.int64
    assert torch.equal(data["train_labels"], torch.from_numpy(arrays["train_labels"].astype(np.int64)))
    assert torch.allclose(data["test_images"] * 255, torch.from_numpy(arrays["test_images"].astype(np.float32)))
    assert 0 <= float(data["train_images"].min()) and float(data["train_images"].max()) <= 1


def test_idx_magic_numbers_and_round_trip(tmp_path):
    for arr in (np.arange(12, dtype=np.uint8).reshape(3, 4), np.arange(6, dtype=np.int32),
                np.linspace(0, 1, 8).astype(np.float32).reshape(2, 2, 2)):
        write_idx(tmp_path / "a.idx", arr)
        raw = (tmp_path / "a.idx").read_bytes()
        assert raw[:2] == b"\x00\x00" and raw[3] == arr.ndim
        back = read_idx(tmp_path / "a.idx")
        assert back.shape == arr.shape and back.dtype == arr.dtype and np.array_equal(back, arr)
    assert (tmp_path / "a.idx").read_bytes()[2] == 0x0D  # float32's type code


def test_truncated_file_gets_a_clear_error(tmp_path):
    make_mnist(tmp_path)
    path = tmp_path / MNIST_FILES["train_images"]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IDXError, match="truncated"):
        load_mnist(tmp_path)
    gz = tmp_path / "x.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(bytes([0, 0, 8, 1, 0, 0, 0, 9]) + b"\x01" * 9)
    gz.write_bytes(gz.read_bytes()[:-6])
    with pytest.raises(IDXError):
        read_idx(gz)


def test_wrong_magic_number_gets_a_clear_error(tmp_path):
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(IDXError, match="magic number"):
        read_idx(bad)


def test_missing_file_gets_a_clear_error(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / MNIST_FILES["test_labels"]).unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_mnist(tmp_path / "nowhere")


def test_digits_split_is_fixed_stratified_and_scaled():
    a, b = load_digits_split(seed=0), load_digits_split(seed=0)
    assert all(torch.equal(a[k], b[k]) for k in a)
    n = len(a["train_labels"]) + len(a["test_labels"])
    assert n == 1797 and a["train_images"].shape[1:] == (8, 8)
    assert float(a["train_images"].max()) == 1.0 and float(a["train_images"].min()) == 0.0
    train_share = torch.bincount(a["train_labels"], minlength=10) / len(a["train_labels"])
    test_share = torch.bincount(a["test_labels"], minlength=10) / len(a["test_labels"])
    assert (train_share - test_share).abs().max() < 0.01, "the split is not stratified"
    with pytest.raises(ValueError):
        load_digits_split(test_fraction=1.5)

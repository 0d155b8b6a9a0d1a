"""quinelib.io: a quine saved with its probe and architecture loads back exactly, and bad files get clear errors."""

import pytest
import torch

import quinelib as q


@pytest.fixture
def saved(tmp_path):
    model, z = q.QuineMLP(seed=0, norm="instance"), q.probe_input(seed=0)
    res = q.solve_exact(model, inputs=z)
    q.assign_(model, res.theta)
    path = tmp_path / "quine.pt"
    q.save_quine(path, model, z)
    return path, model, z


def test_save_load_round_trip_is_exact(saved):
    path, model, z = saved
    payload = torch.load(path, weights_only=True)  # plain tensors and primitives only
    assert payload["format"] == "quinelib.quine/1"
    loaded, z2 = q.load_quine(path)
    theta = q.flatten(loaded)
    assert torch.equal(theta, q.flatten(model)) and torch.equal(z2, z) and torch.equal(loaded.proj, model.proj)
    F = q.as_function(loaded, z2)
    assert (F(theta) - theta).norm() <= 1e-12 * theta.norm()
    assert loaded.architecture() == model.architecture()


def test_truncated_file_gets_a_clear_error(saved, tmp_path):
    path = saved[0]
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(q.QuineFileError, match="truncated or corrupted"):
        q.load_quine(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(q.QuineFileError):
        q.load_quine(junk)


def test_file_for_another_architecture_gets_a_clear_error(saved, tmp_path):
    path, model, _ = saved
    other = q.QuineMLP(seed=0, norm="batch", hidden=(20, 20, 20))
    with pytest.raises(q.QuineFileError, match="another architecture"):
        q.load_quine(path, expect=other.architecture())
    q.load_quine(path, expect=model.architecture())  # the right one loads
    not_quine = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, not_quine)
    with pytest.raises(q.QuineFileError, match="not a quinelib"):
        q.load_quine(not_quine)
    tampered = tmp_path / "tampered.pt"
    payload = torch.load(path, weights_only=True)
    payload["theta"] = payload["theta"][:-5]
    torch.save(payload, tampered)
    with pytest.raises(q.QuineFileError, match="do not fit"):
        q.load_quine(tampered)

"""nnlib used as a PyTorch user would, and given what it does not expect: every case either
works as in PyTorch or fails with a one-line ValueError; nothing is silently ignored."""

from __future__ import annotations

import numpy as np
import pytest

import nnlib


def _model_and_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return nnlib.MLP([4, 8, 2], rng=0), x, y


def test_assigning_data_after_building_an_optimizer_reaches_the_optimizer():
    trained = []
    for assign_first in (True, False):
        model, x, y = _model_and_data()
        w = model.parameters()[0]
        new = np.linspace(-1, 1, w.data.size).reshape(w.shape)  # float64: cast, as copy_ does
        if assign_first:
            w.data = new.astype(np.float32)
        opt = nnlib.get_optimizer("adam", model.parameters(), lr=0.01)
        if not assign_first:
            w.data = new
            assert np.shares_memory(w.data, opt.flat)
        result = nnlib.fit(model, nnlib.get_loss("cross_entropy"), opt, x, y, epochs=2)
        assert result.status == "ok"
        trained.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*trained, strict=True):
        np.testing.assert_array_equal(a, b)


def test_assigning_grad_after_building_an_optimizer_is_what_step_applies():
    model, _, _ = _model_and_data()
    opt = nnlib.get_optimizer("sgd", model.parameters(), lr=0.5)
    params = model.parameters()
    before = [p.data.copy() for p in params]
    for p in params:
        p.grad = np.ones(p.shape)
    opt.step()
    for p, b in zip(params, before, strict=True):
        np.testing.assert_allclose(p.data, b - 0.5, rtol=1e-6)


@pytest.mark.parametrize("what", ["data", "grad"])
def test_assigning_a_wrong_shape_or_none_is_refused_in_one_line(what):
    model, _, _ = _model_and_data()
    nnlib.get_optimizer("adam", model.parameters())
    w = model.parameters()[0]
    for bad in (np.zeros((3, 3)), None, np.full(w.shape, "a")):
        with pytest.raises(ValueError, match=r"^[^\n]*$"):
            setattr(w, what, bad)


def test_two_optimizers_over_one_model_both_update_it():
    model, _, _ = _model_and_data()
    params = model.parameters()
    first = nnlib.get_optimizer("sgd", params, lr=0.1)
    second = nnlib.get_optimizer("sgd", model.parameters(), lr=0.1)
    w = params[0]
    start = w.data.copy()
    w.grad = np.ones(w.shape)
    first.step()
    second.step()
    np.testing.assert_allclose(w.data, start - 0.2, rtol=1e-6)


def test_an_optimizer_over_part_of_another_optimizers_parameters_is_refused():
    model, _, _ = _model_and_data()
    nnlib.get_optimizer("adam", model.parameters())
    with pytest.raises(ValueError, match="different parameter list"):
        nnlib.get_optimizer("adam", model.parameters()[:2])


@pytest.mark.parametrize("lr", ["1e-3", None, [0.1], True])
def test_a_learning_rate_that_is_not_a_number_is_a_one_line_value_error(lr):
    model, _, _ = _model_and_data()
    with pytest.raises(ValueError, match=r"^lr must be a number, got [^\n]*$"):
        nnlib.get_optimizer("adam", model.parameters(), lr=lr)


@pytest.mark.parametrize(
    "content",
    [b"not a model at all", b"PK\x03\x04 truncated zip", b"\x93NUMPY bad header"],
    ids=["text", "truncated-zip", "bad-npy"],
)
def test_load_model_on_a_file_that_is_not_a_model_is_a_value_error(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not an nnlib model file"):
        nnlib.load_model(path)


def test_load_model_on_other_npz_and_npy_files_is_a_value_error(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    np.save(tmp_path / "array.npy", np.arange(3))
    truncated = tmp_path / "truncated.npz"
    model, _, _ = _model_and_data()
    nnlib.save_model(model, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    for name in ("other.npz", "array.npy", "truncated.npz"):
        with pytest.raises(ValueError, match="is not an nnlib model file"):
            nnlib.load_model(tmp_path / name)

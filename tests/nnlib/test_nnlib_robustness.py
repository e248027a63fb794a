"""Damaged checkpoints, losses that explode while staying finite, inputs of another dtype and
backward without a training forward: each is a clear, one-line error or a recorded status."""

import json
import math
import zipfile

import numpy as np
import pytest
from helpers import Interrupt, StopAt, blobs, without_time

from nnlib import (
    GELU,
    MLP,
    CheckpointError,
    Dense,
    Dropout,
    ForwardStateError,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    evaluate,
    fit,
    get_loss,
    get_optimizer,
)
from nnlib.checkpoint import content_digest


def make(lr=1e-2, optimizer="adam", dropout=0.2):
    model = MLP([4, 16, 16, 3], dropout=dropout, rng=1)
    return model, get_optimizer(optimizer, model.parameters(), lr=lr)


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def train(model, opt, checkpoint=None, epochs=4, **kw):
    x, y = blobs()
    return fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x,
        y,
        epochs=epochs,
        batch_size=32,
        validation_data=blobs(60, 1),
        seed=0,
        checkpoint=checkpoint,
        **kw,
    )


def interrupted_checkpoint(path, **kw):
    model, opt = make()
    with pytest.raises(Interrupt):
        train(model, opt, path, callbacks=[StopAt(3)], **kw)
    return path


# ---- damaged checkpoints --------------------------------------------------------------


def read_arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def rewrite(path, change, keep_digest=False):
    """Rewrite the checkpoint as a valid archive after ``change(arrays)``; without
    ``keep_digest`` the digest goes (as in a checkpoint of before the digest existed), so the
    check behind it is what must catch the damage."""
    arrays = read_arrays(path)
    change(arrays)
    if not keep_digest:
        arrays.pop("digest")
    np.savez(path, **arrays)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_weight_byte(path):
    # An uncompressed member: its bytes sit in the file, so the zip's CRC-32 catches this.
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("param_0.npy")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 200] ^= 0xFF
    path.write_bytes(bytes(data))


def reshape_param(arrays):
    arrays["param_0"] = arrays["param_0"].reshape(-1)


def zero_param(arrays):
    arrays["param_0"] = np.zeros_like(arrays["param_0"])


DAMAGES = {
    "not-a-zip": lambda p: p.write_bytes(b"certainly not a checkpoint"),
    "truncated": truncate,
    "bad-crc": flip_a_weight_byte,
    "missing-array": lambda p: rewrite(p, lambda a: a.pop("param_1")),
    "missing-optimizer-state": lambda p: rewrite(p, lambda a: a.pop("opt_exp_avg")),
    "broken-json": lambda p: rewrite(p, lambda a: a.update(state=np.array("{not json"))),
    "state-without-epoch": lambda p: rewrite(
        p, lambda a: a.update(state=np.array(json.dumps({"history": []})))
    ),
    "shape-mismatch": lambda p: rewrite(p, reshape_param),
    "bad-generator-state": lambda p: rewrite(
        p,
        lambda a: a.update(
            state=np.array(json.dumps({**json.loads(a["state"].item()), "rng": {"x": 1}}))
        ),
    ),
    "zeroed-and-rewritten": lambda p: rewrite(p, zero_param, keep_digest=True),
    "not-a-checkpoint": lambda p: np.savez(p, a=np.arange(3)),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_checkpoint_raises_checkpoint_error_and_restores_nothing(tmp_path, damage):
    ckpt = interrupted_checkpoint(tmp_path / "run.npz")
    DAMAGES[damage](ckpt)
    model, opt = make()
    before, state = weights(model), {k: v.copy() for k, v in opt.state.items()}
    with pytest.raises(CheckpointError) as info:
        train(model, opt, ckpt)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert str(ckpt) in message and "\n" not in message and "damaged" in message
    for a, b in zip(weights(model), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert opt.step_count == 0 and all((opt.state[k] == v).all() for k, v in state.items())


def test_after_a_checkpoint_error_deleting_the_file_trains_from_the_start(tmp_path):
    """What the study does with a CheckpointError: delete the file and fit again."""
    ckpt = interrupted_checkpoint(tmp_path / "run.npz")
    rewrite(ckpt, zero_param, keep_digest=True)
    model, opt = make()
    with pytest.raises(CheckpointError, match="SHA-256 digest"):
        train(model, opt, ckpt)
    ckpt.unlink()
    again = train(model, opt, ckpt)
    ref_model, ref_opt = make()
    ref = train(ref_model, ref_opt)
    assert without_time(again.history) == without_time(ref.history)
    for a, b in zip(weights(model), weights(ref_model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_digest_covers_every_array_and_a_clean_checkpoint_resumes(tmp_path):
    ckpt = interrupted_checkpoint(tmp_path / "run.npz")
    arrays = read_arrays(ckpt)
    digest = arrays.pop("digest").item()
    assert digest == content_digest(arrays)
    for name in arrays:  # any one array changed changes the digest
        changed = dict(arrays)
        changed[name] = np.zeros(1) if arrays[name].dtype.kind != "U" else np.array("x")
        assert content_digest(changed) != digest, name
    model, opt = make()
    resumed = train(model, opt, ckpt)
    ref_model, ref_opt = make()
    assert without_time(resumed.history) == without_time(train(ref_model, ref_opt).history)


def test_a_checkpoint_of_other_settings_is_a_plain_value_error(tmp_path):
    """Other settings are no damage: the study must not delete another fit's checkpoint."""
    ckpt = interrupted_checkpoint(tmp_path / "run.npz")
    model, opt = make(lr=0.5)
    with pytest.raises(ValueError, match="other settings") as info:
        train(model, opt, ckpt)
    assert not isinstance(info.value, CheckpointError)


# ---- divergence of a loss that stays finite ---------------------------------------------


def test_a_loss_that_explodes_but_stays_finite_is_diverged():
    model, opt = make(lr=1e3, dropout=0.0)
    result = train(model, opt, epochs=10)
    first_epoch = result.history[0]["train_loss"]
    assert result.status == "diverged" and result.epochs_run == 1
    assert math.isfinite(first_epoch) and first_epoch > 1e4
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    # Without the rule the same fit runs to its end, recorded as "ok" at chance accuracy.
    model, opt = make(lr=1e3, dropout=0.0)
    unruled = train(model, opt, epochs=10, divergence_factor=None)
    assert unruled.status == "ok" and unruled.epochs_run == 10
    assert max(r["train_loss"] for r in unruled.history) > 1e8


@pytest.mark.parametrize(("optimizer", "lr"), [("adam", 0.01), ("sgd", 3.0), ("momentum", 1.0)])
def test_normal_and_noisy_fits_are_not_diverged(optimizer, lr):
    # sgd at lr 3 and momentum at lr 1 bounce (their loss rises between epochs), but well
    # below 100 x the first mini-batch's loss.
    model, opt = make(lr=lr, optimizer=optimizer, dropout=0.0)
    result = train(model, opt, epochs=10)
    losses = [r["train_loss"] for r in result.history]
    assert result.status == "ok" and result.epochs_run == 10
    if lr > 0.01:
        assert any(b > a for a, b in zip(losses, losses[1:], strict=False))


def first_batch_loss():
    """The loss of the first mini-batch fit trains on (seed 0, no dropout), computed by hand."""
    x, y = blobs()
    model, _ = make(dropout=0.0)
    first = np.random.default_rng(0).permutation(len(x))[:32]
    out = model.forward(x[first], training=True)
    return get_loss("cross_entropy").forward(out, y[first])


def test_the_rule_is_the_epoch_loss_against_factor_times_the_first_mini_batch_loss():
    """A factor just below the worst epoch's ratio to the first mini-batch flags that epoch;
    one just above lets the fit run to its end."""
    model, opt = make(lr=3.0, optimizer="sgd", dropout=0.0)
    losses = [r["train_loss"] for r in train(model, opt, epochs=3, divergence_factor=None).history]
    worst = int(np.argmax(losses))
    ratio = losses[worst] / first_batch_loss()
    assert ratio > 1.01
    model, opt = make(lr=3.0, optimizer="sgd", dropout=0.0)
    flagged = train(model, opt, epochs=3, divergence_factor=ratio * 0.999)
    assert flagged.status == "diverged" and flagged.epochs_run == worst + 1
    model, opt = make(lr=3.0, optimizer="sgd", dropout=0.0)
    assert train(model, opt, epochs=3, divergence_factor=ratio * 1.001).status == "ok"


class ExplodeFrom:
    """A schedule that turns the learning rate up to an exploding one from ``epoch`` on."""

    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, epoch):
        return 1e-2 if epoch < self.epoch else 1e3

    def get_config(self):
        return {"type": "ExplodeFrom", "epoch": self.epoch}


def test_a_resumed_fit_keeps_the_first_loss_and_diverges_where_the_whole_fit_does(tmp_path):
    model, opt = make()
    ref = train(model, opt, epochs=8, schedule=ExplodeFrom(4))
    assert ref.status == "diverged" and ref.epochs_run == 5
    ckpt = tmp_path / "run.npz"
    model, opt = make()
    with pytest.raises(Interrupt):
        train(model, opt, ckpt, epochs=8, schedule=ExplodeFrom(4), callbacks=[StopAt(3)])
    model, opt = make()
    resumed = train(model, opt, ckpt, epochs=8, schedule=ExplodeFrom(4))
    assert without_time(resumed.history) == without_time(ref.history)


def test_divergence_factor_enters_the_fingerprint_only_when_not_the_default(tmp_path):
    ckpt = interrupted_checkpoint(tmp_path / "run.npz")
    model, opt = make()
    assert train(model, opt, ckpt, divergence_factor=100.0).status == "ok"
    ckpt = interrupted_checkpoint(tmp_path / "other.npz")
    model, opt = make()
    with pytest.raises(ValueError, match="other settings"):
        train(model, opt, ckpt, divergence_factor=None)


@pytest.mark.parametrize("bad", [1.0, 0.5, -3, math.inf, "100", True])
def test_bad_divergence_factors_are_refused(bad):
    model, opt = make()
    with pytest.raises(ValueError, match=r"^divergence_factor must be None or a number > 1"):
        train(model, opt, divergence_factor=bad)


# ---- inputs of another dtype --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.uint8])
def test_forward_refuses_another_dtype_naming_both_and_the_fix(dtype):
    model = MLP([4, 8, 3], rng=0)
    x = np.ones((5, 4), dtype)
    for module in (model, Sequential(Dense(4, 3, rng=0), ReLU())):
        with pytest.raises(ValueError) as info:
            module.forward(x)
        message = str(info.value)
        assert "\n" not in message
        assert f"expects float32 input, got {np.dtype(dtype).name}" in message
        assert "x.astype(np.float32)" in message


def test_fit_evaluate_and_predict_convert_their_inputs_explicitly():
    x, y = blobs()
    loss = get_loss("cross_entropy")
    runs = []
    for xs in (x, x.astype(np.float64)):
        model, opt = make()
        fit(model, loss, opt, xs, y, epochs=2, validation_data=(xs[:50], y[:50]))
        runs.append((model, evaluate(model, loss, xs, y), model.predict(xs)))
    (m32, e32, p32), (m64, e64, p64) = runs
    for a, b in zip(weights(m32), weights(m64), strict=True):
        np.testing.assert_array_equal(a, b)
    assert e32 == e64
    np.testing.assert_array_equal(p32, p64)
    np.testing.assert_array_equal(m32.predict(np.round(x * 0).astype(np.int64)), m32.predict(x * 0))


# ---- backward before a training-mode forward ----------------------------------------------


MODULES = {
    "Dense": lambda: Dense(4, 4, rng=0),
    "ReLU": ReLU,
    "LeakyReLU": LeakyReLU,
    "Sigmoid": Sigmoid,
    "Tanh": Tanh,
    "GELU": GELU,
    "Softmax": Softmax,
    "Dropout": lambda: Dropout(0.5, rng=0),
    "MLP": lambda: MLP([4, 4, 4], rng=0),
    "Sequential": lambda: Sequential(Dense(4, 4, rng=0), Tanh()),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_backward_before_a_training_forward_is_a_clear_one_line_error(name):
    module = MODULES[name]()
    g = np.ones((3, 4), np.float32)
    with pytest.raises(ForwardStateError) as info:
        module.backward(g)
    message = str(info.value)
    assert "\n" not in message and "forward(x, training=True) before backward" in message
    if name not in ("Dropout",):  # eval-mode dropout is the identity, its backward too
        module.forward(g, training=False)
        with pytest.raises(ForwardStateError):
            module.backward(g)
    module.forward(g, training=True)
    assert module.backward(g).shape == g.shape


def test_missing_attributes_still_behave_as_attribute_errors():
    dense = Dense(2, 2, rng=0)
    assert not hasattr(dense, "_x") and getattr(dense, "_x", None) is None
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        dense.missing  # noqa: B018

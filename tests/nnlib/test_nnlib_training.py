"""fit: history, schedules, early stopping, callbacks, divergence, determinism,
save/load and checkpoint/resume."""

import json
import math
import os
import warnings

import numpy as np
import pytest
from helpers import Interrupt, StopAt, blobs, without_time

from nnlib import (
    HISTORY_KEYS,
    MLP,
    evaluate,
    fit,
    get_loss,
    get_optimizer,
    get_schedule,
    load_model,
    save_model,
)


def make(seed=1, optimizer="adamw", dropout=0.2, dtype=np.float32, lr=1e-2, path="numpy"):
    model = MLP([4, 16, 16, 3], activation="relu", dropout=dropout, dtype=dtype, rng=seed)
    opt = get_optimizer(optimizer, model.parameters(), lr=lr)
    opt.path = path
    return model, opt


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def test_history_rows_and_schedule():
    x, y = blobs()
    model, opt = make()
    sched = get_schedule("cosine", lr=1e-2, epochs=5, warmup_epochs=2)
    result = fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x,
        y,
        epochs=5,
        batch_size=50,
        validation_data=blobs(60, 1),
        schedule=sched,
        seed=0,
    )
    assert result.status == "ok" and result.epochs_run == 5
    assert [tuple(r) for r in result.history] == [HISTORY_KEYS] * 5
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5]
    lrs = [r["lr"] for r in result.history]
    expected = [5e-3, 1e-2] + [0.5e-2 * (1 + math.cos(math.pi * k / 3)) for k in range(3)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    for row in result.history:
        assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["val_accuracy"] <= 1
        assert row["grad_norm"] > 0 and row["seconds"] > 0
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.train_seconds == pytest.approx(sum(r["seconds"] for r in result.history))


def test_other_schedules():
    step = get_schedule("step", lr=1.0, step_size=2, gamma=0.5, epochs=9)
    assert [step(e) for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert get_schedule("exponential", lr=2.0, gamma=0.5)(3) == 0.25
    assert get_schedule("constant", lr=0.3, epochs=4)(7) == 0.3
    cos = get_schedule("cosine", lr=1.0, epochs=4, min_lr=0.1)
    assert cos(0) == 1.0 and cos(4) == pytest.approx(0.1)


def test_same_seed_is_bit_identical_and_other_seed_differs():
    x, y = blobs()
    runs = []
    for fit_seed in (0, 0, 1):
        model, opt = make()
        fit(model, get_loss("cross_entropy"), opt, x, y, epochs=3, batch_size=32, seed=fit_seed)
        runs.append(weights(model))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2], strict=True))


def test_callbacks_and_verbose(capsys):
    x, y = blobs()
    calls = []

    class Recorder:
        def on_epoch_end(self, epoch, row, model, optimizer):
            calls.append((epoch, row["train_loss"], optimizer.lr))

        def on_fit_end(self, result):
            calls.append(("end", result.status))

    model, opt = make()
    result = fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x,
        y,
        epochs=3,
        batch_size=64,
        callbacks=[Recorder(), object()],
        verbose=True,
    )
    assert [c[0] for c in calls] == [1, 2, 3, "end"]
    assert calls[-1] == ("end", "ok")
    assert [c[1] for c in calls[:3]] == [r["train_loss"] for r in result.history]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3")


def test_early_stopping_restores_best_weights():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4)).astype(np.float32)
    y = rng.integers(0, 3, 200)  # pure noise: validation loss soon rises
    val = (rng.standard_normal((100, 4)).astype(np.float32), rng.integers(0, 3, 100))
    model, opt = make(dropout=0.0, optimizer="adam", lr=0.05)
    loss = get_loss("cross_entropy")
    result = fit(
        model,
        loss,
        opt,
        x,
        y,
        epochs=50,
        batch_size=16,
        validation_data=val,
        early_stopping=3,
        seed=0,
    )
    assert result.status == "early_stopped"
    assert result.epochs_run == result.best_epoch + 3 < 50
    val_losses = [r["val_loss"] for r in result.history]
    assert result.best_val_loss == min(val_losses)
    assert evaluate(model, loss, *val)[0] == pytest.approx(result.best_val_loss, rel=1e-6)


def test_divergence_is_a_status_not_an_exception():
    x, y = blobs()
    model = MLP([4, 16, 1], rng=0)
    opt = get_optimizer("sgd", model.parameters(), lr=1e6)
    result = fit(
        model, get_loss("mse"), opt, x, y.astype(np.float32) * 1e3, epochs=20, batch_size=16
    )
    assert result.status == "diverged"
    assert result.epochs_run < 20 and math.isnan(result.history[-1]["train_loss"])
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_validation_that_overflows_is_recorded_without_warnings():
    """Weights can blow up in an epoch's last steps while its training loss stays finite; the
    validation pass then overflows. That is recorded, not warned about or raised."""
    x, y = blobs()
    model, opt = make(optimizer="sgd", dropout=0.0)
    huge = np.clip(x, -3, 3) * np.float32(1e38)  # finite inputs whose logits overflow float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fit(
            model, get_loss("cross_entropy"), opt, x, y, epochs=2, validation_data=(huge, y)
        )
    assert result.status == "ok"
    assert all(not math.isfinite(row["val_loss"]) for row in result.history)
    assert all(math.isfinite(row["train_loss"]) for row in result.history)


def test_save_load_round_trip(tmp_path):
    model = MLP(
        [5, 6, 4, 3],
        activation=["gelu", ["relu", "tanh", "sigmoid", "leaky_relu"]],
        init="xavier_uniform",
        dropout=0.1,
        dtype=np.float64,
        rng=7,
    )
    path = tmp_path / "sub" / "model.npz"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    x = np.random.default_rng(0).standard_normal((9, 5))
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert os.listdir(path.parent) == ["model.npz"]  # no temporary file left behind
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="not an nnlib model"):
        load_model(tmp_path / "other.npz")


@pytest.mark.parametrize("path", ["numpy", "numba"])
@pytest.mark.parametrize("stop_at", [2, 4])
def test_interrupted_and_resumed_fit_equals_uninterrupted(tmp_path, stop_at, path):
    x, y = blobs()
    val = blobs(60, 1)

    def run(checkpoint=None, callbacks=()):
        # dropout: the model's generator must be restored too
        model, opt = make(dropout=0.3, path=path)
        result = fit(
            model,
            get_loss("cross_entropy", l2=1e-3),
            opt,
            x,
            y,
            epochs=6,
            batch_size=32,
            validation_data=val,
            early_stopping=10,
            seed=5,
            checkpoint=checkpoint,
            schedule=get_schedule("cosine", lr=1e-2, epochs=6, warmup_epochs=1),
            callbacks=callbacks,
        )
        return model, opt, result

    ref_model, ref_opt, ref = run()
    ckpt = tmp_path / "ckpt.npz"
    with pytest.raises(Interrupt):
        run(ckpt, [StopAt(stop_at)])
    assert ckpt.exists()
    model, opt, resumed = run(ckpt)
    assert resumed.status == ref.status
    assert without_time(resumed.history) == without_time(ref.history)
    for a, b in zip(weights(model), weights(ref_model), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(opt.state["exp_avg_sq"], ref_opt.state["exp_avg_sq"])
    # A finished checkpoint returns the same result without training again.
    model2, _, again = run(ckpt)
    assert without_time(again.history) == without_time(ref.history)
    np.testing.assert_array_equal(weights(model2)[0], weights(ref_model)[0])
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


class FitStarts:
    """Records what fit hands ``on_fit_start`` and the epochs that end after it."""

    def __init__(self):
        self.events = []

    def on_fit_start(self, history):
        self.events.append(("start", history))

    def on_epoch_end(self, epoch, row, model, optimizer):
        self.events.append(("epoch", epoch))


def test_on_fit_start_gets_the_rows_a_resumed_fit_restored(tmp_path):
    x, y = blobs()
    ckpt = tmp_path / "c.npz"

    def run(callbacks):
        model, opt = make()
        return fit(
            model,
            get_loss("cross_entropy"),
            opt,
            x,
            y,
            epochs=5,
            batch_size=32,
            validation_data=blobs(60, 1),
            checkpoint=ckpt,
            callbacks=callbacks,
        )

    fresh = FitStarts()
    with pytest.raises(Interrupt):
        run([fresh, StopAt(3)])  # the checkpoint holds epochs 1-2
    assert fresh.events == [("start", []), ("epoch", 1), ("epoch", 2), ("epoch", 3)]
    resumed = FitStarts()
    result = run([resumed])
    (kind, restored), *later = resumed.events
    assert kind == "start" and later == [("epoch", 3), ("epoch", 4), ("epoch", 5)]
    assert restored == result.history[:2] and [r["epoch"] for r in restored] == [1, 2]
    restored.clear()  # a copy: the callback may keep or change it
    assert len(result.history) == 5


class CheckpointLog:
    """Records the epochs at which fit announces a checkpoint and what the file then holds."""

    def __init__(self, path):
        self.path, self.announced, self.on_disk = path, [], []

    def on_checkpoint(self, epoch):
        self.announced.append(epoch)

    def on_epoch_end(self, epoch, row, model, optimizer):
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as f:
                self.on_disk.append(json.loads(f["state"].item())["epoch"])


@pytest.mark.parametrize(("interval", "mid_fit"), [(0.0, [1, 2, 3, 4, 5]), (3600.0, [])])
def test_checkpoint_interval_spaces_the_checkpoints_and_announces_each(tmp_path, interval, mid_fit):
    x, y = blobs()
    ckpt = tmp_path / "c.npz"
    log = CheckpointLog(ckpt)
    model, opt = make()
    fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x,
        y,
        epochs=6,
        batch_size=32,
        checkpoint=ckpt,
        checkpoint_interval=interval,
        callbacks=[log],
    )
    # Every epoch but the last, or none during the fit; always one at its end (epoch 6),
    # each announced to the callbacks just before it is written.
    assert log.announced == [*mid_fit, 6]
    assert sorted(set(log.on_disk)) == mid_fit
    ref_model, ref_opt = make()
    fit(ref_model, get_loss("cross_entropy"), ref_opt, x, y, epochs=6, batch_size=32)
    for a, b in zip(weights(model), weights(ref_model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_interval_must_be_a_non_negative_number_of_seconds():
    x, y = blobs()
    model, opt = make()
    with pytest.raises(ValueError, match="checkpoint_interval must be >= 0"):
        fit(model, get_loss("cross_entropy"), opt, x, y, epochs=1, checkpoint_interval=-1.0)


def test_checkpoint_from_other_settings_is_rejected(tmp_path):
    x, y = blobs()
    ckpt = tmp_path / "c.npz"
    model, opt = make()
    fit(model, get_loss("cross_entropy"), opt, x, y, epochs=2, batch_size=32, checkpoint=ckpt)
    model, opt = make()
    with pytest.raises(ValueError, match="other settings"):
        fit(model, get_loss("cross_entropy"), opt, x, y, epochs=2, batch_size=64, checkpoint=ckpt)


def test_float64_training_keeps_dtype():
    x, y = blobs()
    model, opt = make(dtype=np.float64)
    fit(model, get_loss("cross_entropy"), opt, x, y, epochs=1, batch_size=32)
    assert all(p.data.dtype == np.float64 for p in model.parameters())
    assert model.forward(x.astype(np.float64)).dtype == np.float64
    # fit converted its float32 input; forward itself refuses it, as PyTorch does
    with pytest.raises(ValueError, match="expects float64 input, got float32"):
        model.forward(x)


def test_save_load_of_composed_modules(tmp_path):
    from nnlib import GELU, Dense, LeakyReLU, Residual, Sequential

    model = Sequential(
        Dense(3, 4, rng=1),
        LeakyReLU(0.2),
        Residual(Sequential(Dense(4, 4, init="xavier_normal", rng=2), GELU("tanh"))),
        Dense(4, 2, bias=False, rng=3),
    )
    save_model(model, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.get_config() == model.get_config()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def noisy(xb, rng):
    """A batch_transform that draws from fit's generator (like augmentation)."""
    return xb + rng.standard_normal(xb.shape).astype(xb.dtype)


@pytest.mark.parametrize("stop_at", [2, 3])
def test_batch_transform_resumes_bit_identically_and_is_applied(tmp_path, stop_at):
    x, y = blobs()
    val = blobs(60, 1)
    seen = []

    def spy(xb, rng):
        seen.append(len(xb))
        return noisy(xb, rng)

    def run(checkpoint=None, callbacks=(), transform=noisy):
        model, opt = make(dropout=0.3)
        result = fit(
            model,
            get_loss("cross_entropy"),
            opt,
            x,
            y,
            epochs=4,
            batch_size=32,
            validation_data=val,
            seed=5,
            checkpoint=checkpoint,
            callbacks=callbacks,
            batch_transform=transform,
        )
        return model, result

    ref_model, ref = run()
    ckpt = tmp_path / "ckpt.npz"
    with pytest.raises(Interrupt):
        run(ckpt, [StopAt(stop_at)])
    model, resumed = run(ckpt)
    assert without_time(resumed.history) == without_time(ref.history)
    for a, b in zip(weights(model), weights(ref_model), strict=True):
        np.testing.assert_array_equal(a, b)
    # Applied to every training batch (240 = 7 x 32 + 16), never to validation data.
    spy_model, _ = run(transform=spy)
    assert seen == ([32] * 7 + [16]) * 4
    for a, b in zip(weights(spy_model), weights(ref_model), strict=True):
        np.testing.assert_array_equal(a, b)
    plain, _ = run(transform=None)
    assert not np.array_equal(weights(plain)[0], weights(ref_model)[0])
    # The transform is part of the settings a checkpoint must match.
    with pytest.raises(ValueError, match="other settings"):
        run(ckpt, transform=None)


def test_batch_transform_must_keep_the_shape():
    x, y = blobs()
    model, opt = make()
    with pytest.raises(ValueError, match="batch_transform returned shape"):
        fit(
            model,
            get_loss("cross_entropy"),
            opt,
            x,
            y,
            epochs=1,
            batch_transform=lambda xb, rng: xb[:, :2],
        )
    with pytest.raises(ValueError, match="batch_transform must be None or callable"):
        fit(model, get_loss("cross_entropy"), opt, x, y, epochs=1, batch_transform=3)

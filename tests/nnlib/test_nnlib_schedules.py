"""Per-step schedules (cosine with warmup in steps, OneCycle) and ReduceLROnPlateau: the
learning rates (and momenta) torch's schedulers give, step by step, inside and outside
``fit``; checkpoints resume them bit-identically; existing schedules keep their meaning."""

import json
import math

import numpy as np
import pytest
from helpers import Interrupt, StopAt, blobs, without_time

from nnlib import (
    MLP,
    CheckpointError,
    CosineWarmup,
    OneCycle,
    Parameter,
    ReduceLROnPlateau,
    fit,
    get_loss,
    get_optimizer,
    get_schedule,
)


def recorded(optimizer):
    """Record the lr and momentum (beta1 for Adam-like optimizers, None for Adagrad) of every
    step."""
    seen, step = [], optimizer.step

    def recording_step():
        betas = getattr(optimizer, "betas", [getattr(optimizer, "momentum", None)])
        momentum = betas[0]
        seen.append((optimizer.lr, momentum))
        step()

    optimizer.step = recording_step
    return seen


def train(schedule, optimizer="sgd", epochs=3, checkpoint=None, callbacks=(), **opt_kw):
    model = MLP([4, 8, 3], rng=0)
    opt = get_optimizer(optimizer, model.parameters(), lr=0.05, **opt_kw)
    seen = recorded(opt)
    x, y = blobs()
    result = fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x,
        y,
        epochs=epochs,
        batch_size=50,  # 240 samples: 5 steps per epoch, the last one of 40
        validation_data=blobs(60, 1),
        schedule=schedule,
        checkpoint=checkpoint,
        callbacks=callbacks,
    )
    return model, opt, result, seen


# ---- torch's schedulers, step by step ----------------------------------------------------


def torch_lrs(torch, make_scheduler, steps, optimizer="SGD", **opt_kw):
    """The (lr, momentum or beta1 or None) torch's scheduler gives each of ``steps`` steps."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = getattr(torch.optim, optimizer)([p], lr=0.05, **opt_kw)
    sched = make_scheduler(opt)
    out = []
    for _ in range(steps):
        group = opt.param_groups[0]
        out.append((group["lr"], group.get("betas", [group.get("momentum")])[0]))
        p.grad = torch.ones_like(p)
        opt.step()
        sched.step()
    return out


def torch_cosine(torch, lr, warmup, total, min_lr):
    """Our cosine with warmup as torch composes it: LinearLR then CosineAnnealingLR."""
    S = torch.optim.lr_scheduler

    def make(opt):
        for group in opt.param_groups:
            group["lr"] = lr
        cosine = S.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=min_lr)
        if not warmup:
            return cosine
        linear = S.LinearLR(opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1)
        return S.SequentialLR(opt, [linear, cosine], milestones=[warmup])

    return [lr_ for lr_, _ in torch_lrs(torch, make, total)]


@pytest.mark.parametrize(
    ("kw", "warmup"),
    [
        ({"warmup_epochs": 1}, 5),
        ({"warmup_epochs": 2, "min_lr": 1e-3}, 10),
        ({"warmup_steps": 3}, 3),
        ({}, 0),
    ],
)
def test_per_step_cosine_equals_torch_and_fit_applies_it_every_step(kw, warmup):
    torch = pytest.importorskip("torch")
    sched = CosineWarmup(0.05, epochs=3, per_step=True, **kw)
    _, _, result, seen = train(sched)
    want = torch_cosine(torch, 0.05, warmup, 15, kw.get("min_lr", 0.0))
    np.testing.assert_allclose([lr for lr, _ in seen], want, rtol=1e-13, atol=1e-18)
    assert [r["lr"] for r in result.history] == [seen[4][0], seen[9][0], seen[14][0]]
    assert [sched.lr_at(s) for s in range(15)] == [lr for lr, _ in seen]


@pytest.mark.parametrize("kw", [{"warmup_epochs": 2}, {"warmup_epochs": 0, "min_lr": 0.01}])
def test_per_epoch_cosine_is_unchanged_and_equals_torch_per_epoch(kw):
    torch = pytest.importorskip("torch")
    sched = CosineWarmup(0.05, epochs=6, **kw)
    _, _, result, seen = train(sched, epochs=6)
    want = torch_cosine(torch, 0.05, kw["warmup_epochs"], 6, kw.get("min_lr", 0.0))
    np.testing.assert_allclose([r["lr"] for r in result.history], want, rtol=1e-13)
    assert [lr for lr, _ in seen] == [r["lr"] for r in result.history for _ in range(5)]
    # the per-epoch formula of before, as test_history_rows_and_schedule pins it too
    w, mn = kw["warmup_epochs"], kw.get("min_lr", 0.0)
    for e in range(6):
        old = (
            0.05 * (e + 1) / w
            if e < w
            else mn + 0.5 * (0.05 - mn) * (1 + math.cos(math.pi * (e - w) / (6 - w)))
        )
        assert sched(e) == old


def test_the_new_cosine_keywords_appear_in_the_config_only_when_set():
    plain = CosineWarmup(0.1, epochs=5, warmup_epochs=1)
    assert plain.get_config() == {
        "type": "CosineWarmup",
        "lr": 0.1,
        "epochs": 5,
        "warmup_epochs": 1,
        "min_lr": 0.0,
    }
    assert CosineWarmup(0.1, epochs=5, per_step=True).get_config()["per_step"] is True
    assert CosineWarmup(0.1, 5, per_step=True, warmup_steps=7).get_config()["warmup_steps"] == 7
    with pytest.raises(ValueError, match="warmup_steps needs per_step=True"):
        CosineWarmup(0.1, epochs=5, warmup_steps=3)
    with pytest.raises(ValueError, match="not both"):
        CosineWarmup(0.1, epochs=5, warmup_epochs=1, warmup_steps=3, per_step=True)
    with pytest.raises(ValueError, match="fewer than the fit's 10 steps"):
        CosineWarmup(0.1, epochs=5, warmup_steps=10, per_step=True).bind(2)
    with pytest.raises(ValueError, match="bind"):
        CosineWarmup(0.1, epochs=5, per_step=True)(0)


ONE_CYCLE_CASES = [
    ({}, "SGD", {"momentum": 0.9}),
    ({}, "Adam", {}),
    ({"three_phase": True, "anneal_strategy": "linear"}, "SGD", {"momentum": 0.5}),
    ({"pct_start": 0.5, "div_factor": 10.0, "final_div_factor": 100.0}, "AdamW", {}),
    ({"base_momentum": 0.8, "max_momentum": 0.9, "three_phase": True}, "Adam", {}),
    ({"cycle_momentum": False}, "SGD", {}),
    ({}, "NAdam", {}),
    ({"cycle_momentum": False}, "Adagrad", {}),
]


@pytest.mark.parametrize(("kw", "optimizer", "opt_kw"), ONE_CYCLE_CASES)
def test_one_cycle_equals_torch_step_by_step_in_fit(kw, optimizer, opt_kw):
    torch = pytest.importorskip("torch")

    def make(opt):
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=0.05, epochs=3, steps_per_epoch=5, **kw
        )

    want = torch_lrs(torch, make, 15, optimizer, **opt_kw)
    _, opt, result, seen = train(OneCycle(0.05, epochs=3, **kw), optimizer.lower(), **opt_kw)
    assert [lr for lr, _ in seen] == [lr for lr, _ in want]
    assert [m for _, m in seen] == [m for _, m in want]
    assert result.history[-1]["lr"] == want[-1][0]


def test_one_cycle_defaults_are_torchs():
    sched = get_schedule("one_cycle", lr=1.0, epochs=2)
    assert (sched.pct_start, sched.anneal_strategy, sched.div_factor) == (0.3, "cos", 25.0)
    assert (sched.final_div_factor, sched.three_phase, sched.cycle_momentum) == (1e4, False, True)
    assert (sched.base_momentum, sched.max_momentum) == (0.85, 0.95)
    sched.bind(10)
    assert sched.lr_at(0) == pytest.approx(1.0 / 25, rel=1e-14)
    assert sched.lr_at(19) == pytest.approx(1.0 / 25 / 1e4, rel=1e-14)
    assert max(sched.lr_at(s) for s in range(20)) == pytest.approx(1.0, rel=0.05)


def test_one_cycle_needs_a_momentum_to_cycle():
    p = [Parameter(np.zeros(3))]
    with pytest.raises(ValueError, match="built without it"):
        OneCycle(0.1, 2).bind(5, get_optimizer("sgd", p))
    OneCycle(0.1, 2, cycle_momentum=False).bind(5, get_optimizer("sgd", p))
    with pytest.raises(ValueError, match="Adagrad has not"):
        OneCycle(0.1, 2).bind(5, get_optimizer("adagrad", p))
    with pytest.raises(ValueError, match="zero steps"):
        OneCycle(0.1, 1, pct_start=0.1).bind(10)
    with pytest.raises(ValueError, match="bind"):
        OneCycle(0.1, 2).lr_at(0)
    with pytest.raises(ValueError, match="anneal_strategy must be one of cos, linear"):
        OneCycle(0.1, 2, anneal_strategy="exp")


PLATEAU_CASES = [
    {"patience": 2},
    {"patience": 1, "cooldown": 2, "factor": 0.5},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 0},
    {"patience": 0, "min_lr": 0.02, "factor": 0.5},
    {"patience": 0, "eps": 0.03, "factor": 0.5},
    {},
]


@pytest.mark.parametrize("kw", PLATEAU_CASES)
def test_plateau_equals_torch(kw, rng):
    torch = pytest.importorskip("torch")
    metrics = np.r_[np.linspace(1, 0.5, 5), np.full(14, 0.5), rng.random(12), [np.nan, 0.1]]
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    ours = ReduceLROnPlateau(0.1, **kw)
    for m in metrics:
        assert ours(0) == opt.param_groups[0]["lr"]
        theirs.step(m)
        ours.step(m)
        assert ours.num_bad_epochs == theirs.num_bad_epochs
    assert ours(0) == opt.param_groups[0]["lr"] < 0.1


def plateau_fit(checkpoint=None, callbacks=()):
    sched = ReduceLROnPlateau(0.5, patience=0, factor=0.5, threshold=0.05)
    return train(sched, epochs=8, checkpoint=checkpoint, callbacks=callbacks)


def test_plateau_in_fit_reads_the_validation_loss_of_each_epoch():
    _, _, result, seen = plateau_fit()
    lrs = [r["lr"] for r in result.history]
    # replay: the lr of epoch e + 1 is what the schedule made of the val_loss of epochs <= e
    replay = ReduceLROnPlateau(0.5, patience=0, factor=0.5, threshold=0.05)
    for row, lr in zip(result.history, lrs, strict=True):
        assert replay(0) == lr
        replay.step(row["val_loss"])
    assert lrs[0] == 0.5 and min(lrs) < 0.5  # it did reduce
    assert [lr for lr, _ in seen] == [lr for lr in lrs for _ in range(5)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReduceLROnPlateau(0.5, patience=0, factor=0.5, threshold=0.05),
        lambda: OneCycle(0.05, epochs=8),
        lambda: CosineWarmup(0.05, epochs=8, warmup_steps=7, per_step=True),
    ],
    ids=["plateau", "one_cycle", "cosine_per_step"],
)
def test_resumed_fits_with_these_schedules_are_bit_identical(tmp_path, make):
    opt_kw = {"momentum": 0.9}
    ref_model, _, ref, ref_seen = train(make(), epochs=8, **opt_kw)
    ckpt = tmp_path / "c.npz"
    with pytest.raises(Interrupt):
        train(make(), epochs=8, checkpoint=ckpt, callbacks=[StopAt(5)], **opt_kw)
    model, _, resumed, seen = train(make(), epochs=8, checkpoint=ckpt, **opt_kw)
    assert without_time(resumed.history) == without_time(ref.history)
    assert seen == ref_seen[-len(seen) :] and len(seen) == 20  # epochs 5 to 8
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_plateau_state_is_in_the_checkpoint_and_checked_when_resumed(tmp_path):
    ckpt = tmp_path / "c.npz"
    with pytest.raises(Interrupt):
        plateau_fit(ckpt, [StopAt(4)])
    with np.load(ckpt, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    state = json.loads(arrays["state"].item())
    replay = ReduceLROnPlateau(0.5, patience=0, factor=0.5, threshold=0.05)
    for row in state["history"]:
        replay.step(row["val_loss"])
    assert state["schedule"] == replay.state_dict()
    state["schedule"] = {**replay.state_dict(), "current_lr": "fast"}
    arrays["state"] = np.array(json.dumps(state))
    arrays.pop("digest")  # as a checkpoint of before the digest: the state check must catch it
    np.savez(ckpt, **arrays)
    with pytest.raises(CheckpointError, match="ReduceLROnPlateau state current_lr must be"):
        plateau_fit(ckpt)


def test_plateau_on_validation_needs_validation_data():
    model = MLP([4, 8, 3], rng=0)
    x, y = blobs()
    opt = get_optimizer("sgd", model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="monitors val_loss, which needs validation_data"):
        fit(model, get_loss("cross_entropy"), opt, x, y, 2, schedule=ReduceLROnPlateau(0.1))
    train_monitor = ReduceLROnPlateau(0.1, monitor="train_loss", patience=0)
    assert (
        fit(model, get_loss("cross_entropy"), opt, x, y, 2, schedule=train_monitor).status == "ok"
    )
    assert train_monitor.last_epoch == 2
    assert "epochs" not in get_schedule("plateau", lr=0.1, epochs=5).get_config()
    with pytest.raises(ValueError, match="factor must be < 1"):
        ReduceLROnPlateau(0.1, factor=1.0)
    with pytest.raises(ValueError, match="monitor must be one of"):
        ReduceLROnPlateau(0.1, monitor="val_f1")


def test_a_per_epoch_schedule_is_called_once_per_epoch():
    calls = []

    def schedule(epoch):
        calls.append(epoch)
        return 0.05

    _, _, result, seen = train(schedule, epochs=4)
    assert calls == [0, 1, 2, 3] and len(seen) == 20

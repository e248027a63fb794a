"""Pins of fit's results and checkpoints as they were before ``fit`` was split into small
pieces, so that any later change to the training loop is proven neutral: a short fit's history
and weights (SHA-256 digests of their exact bits), the checkpoint fingerprint of existing
settings, and a checkpoint file written by that code, which must still resume.

The digests are exact bits, so they depend on the machine as well as on the code: NumPy picks
its element-wise loops (exp, log, sums) by the CPU's instruction sets, and loops for different
sets may round differently in the last bit (an AVX2-only machine, where OpenBLAS also runs
its Haswell kernels, gives other bits). So each case has a pin per kind of machine, each
computed by the code before the split (the first on the machine that pinned them; then on an
AVX2-only x86-64-v3 machine, where that code and today's give the same bits). A new kind of
machine fails, printing its digests: they are to be computed with the code before the split,
never copied from today's.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nnlib import MLP, fit, get_loss, get_optimizer, get_schedule
from nnlib.checkpoint import fingerprint

DATA = Path(__file__).parent / "data"


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]])
    return (centers[y] + rng.standard_normal((n, 4))).astype(np.float32), y


def digest(result, model) -> str:
    """SHA-256 of the history (every value but the seconds, as exact float hex) and weights."""
    h = hashlib.sha256()
    for row in result.history:
        for k, v in row.items():
            if k != "seconds":
                h.update(f"{k}={float(v).hex()};".encode())
    h.update(f"{result.status}|{result.best_epoch}|{result.epochs_run}".encode())
    for p in model.parameters():
        h.update(p.data.tobytes())
    return h.hexdigest()


def setup(dtype, optimizer, lr):
    model = MLP([4, 16, 16, 3], activation="relu", dropout=0.2, dtype=dtype, rng=1)
    return model, get_optimizer(optimizer, model.parameters(), lr=lr)


# What each case trains: every branch of the epoch loop (clipping that triggers, l2, dropout,
# a schedule, validation, early stopping that ends the fit and restores the best weights).
CASES = {
    "clip_cosine_float32": dict(
        dtype=np.float32,
        optimizer="adamw",
        lr=1e-2,
        fit=dict(epochs=5, batch_size=32, clip_norm=0.5, seed=3),
        schedule=dict(name="cosine", epochs=5, warmup_epochs=2),
        l2=1e-3,
    ),
    "early_stop_float64": dict(
        dtype=np.float64,
        optimizer="sgd",
        lr=0.3,
        fit=dict(epochs=40, batch_size=16, early_stopping=2, seed=0),
        schedule=None,
        l2=0.0,
    ),
}
# Each case's digests, one per kind of machine, each computed by the code before the split;
# "resumed": case clip_cosine_float32 resumed from data/old_checkpoint.npz (written on the
# first machine, so elsewhere it ends where that code ends when it resumes the same file, not
# where an uninterrupted fit does). Any change to what fit computes gives a digest in neither.
PINS = {
    "clip_cosine_float32": {
        "0fbe918865e85ccc540bc942a49bd2950c3f7d9d2bc26aed18ce27a00951009f",  # first machine
        "30c246dd3037a6b100c9857cdf006825abdf6ab6c05b2f452364736f8d5bfb41",  # x86-64-v3
    },
    "early_stop_float64": {
        "cd69310c506e7d500485cb963d32b503803cf2b3b3b2192e0c803801845c59ca",
        "943e1cc1dfa0aa2933fadd2769d03efbf6000a9cb2fe70d27d0a238659fa1099",
    },
    "resumed": {
        "0fbe918865e85ccc540bc942a49bd2950c3f7d9d2bc26aed18ce27a00951009f",
        "06048766e8b09a254361a82ec817d3d7ec927f5e6b474a3a6cbb08352aa6a557",
    },
}


def assert_pinned(key: str, got: str) -> None:
    """``got`` is one of ``key``'s pins; else fail naming this CPU's SIMD level and ``got``
    (a new kind of machine's digest is to be computed with the code before the split)."""
    from numpy._core._multiarray_umath import __cpu_features__

    if got not in PINS[key]:
        level = [f for f in ("X86_V4", "X86_V3", "X86_V2") if __cpu_features__.get(f)][:1]
        pytest.fail(f"{key}: {got} is no pin (SIMD level {level or 'other'})", pytrace=False)


def run_case(case, **extra):
    spec = CASES[case]
    model, opt = setup(spec["dtype"], spec["optimizer"], spec["lr"])
    schedule = None
    if spec["schedule"] is not None:
        kw = dict(spec["schedule"])
        schedule = get_schedule(kw.pop("name"), lr=spec["lr"], **kw)
    x, y = blobs(200, 0)
    result = fit(
        model,
        get_loss("cross_entropy", l2=spec["l2"]),
        opt,
        x,
        y,
        validation_data=blobs(80, 1),
        schedule=schedule,
        **spec["fit"],
        **extra,
    )
    return model, opt, result


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_results_are_pinned(case):
    model, _, result = run_case(case)
    assert_pinned(case, digest(result, model))


FINGERPRINT_SHA256 = "82c1b8d623721f701a956f1af488d1afe216185851fed33e09b2e940aded3726"


def test_fingerprint_of_existing_settings_is_pinned():
    """A checkpoint names its fit's settings; new options must leave that text unchanged for
    the settings that existed before them, or every interrupted run would restart."""
    model, opt = setup(np.float32, "adam", 1e-3)
    sched = get_schedule("cosine", lr=1e-3, epochs=6, warmup_epochs=1)
    text = fingerprint(model, get_loss("cross_entropy"), opt, sched, 200, 6, 32, True, 3, 1.0)
    assert hashlib.sha256(text.encode()).hexdigest() == FINGERPRINT_SHA256


def test_a_checkpoint_written_before_the_refactor_still_resumes(tmp_path):
    """data/old_checkpoint.npz was written by the fit of before (case clip_cosine_float32 with
    a checkpoint, interrupted after epoch 2); resuming from it ends as the uninterrupted fit
    on the machine that wrote it, and elsewhere as that code ends when it resumes the file."""
    ckpt = tmp_path / "ckpt.npz"
    shutil.copy(DATA / "old_checkpoint.npz", ckpt)
    with np.load(ckpt, allow_pickle=False) as f:
        assert json.loads(f["state"].item())["epoch"] == 2
    model, _, resumed = run_case("clip_cosine_float32", checkpoint=ckpt)
    assert_pinned("resumed", digest(resumed, model))

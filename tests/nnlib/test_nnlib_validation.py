"""Bad input gives a one-line ValueError naming the cause; unknown names list valid ones."""

import numpy as np
import pytest

from nnlib import (
    MLP,
    CrossEntropyLoss,
    Dense,
    Dropout,
    MSELoss,
    fit,
    get_activation,
    get_initializer,
    get_loss,
    get_optimizer,
    get_schedule,
)


def raises_one_line(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    model = MLP([4, 8, 3], rng=0)
    opt = get_optimizer("sgd", model.parameters(), lr=0.1)
    x = rng.standard_normal((20, 4)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    return model, opt, x, y


def test_fit_rejects_bad_data(setup):
    model, opt, x, y = setup
    loss = get_loss("cross_entropy")
    raises_one_line(r"2-D array", fit, model, loss, opt, x[0], y, epochs=1)
    raises_one_line(
        r"has 3 features, the model expects 4", fit, model, loss, opt, x[:, :3], y, epochs=1
    )
    raises_one_line(r"y has 19 rows", fit, model, loss, opt, x, y[:19], epochs=1)
    raises_one_line(r"must be in \[0, 2\]", fit, model, loss, opt, x, y + 1, epochs=1)
    raises_one_line(r"integer class labels", fit, model, loss, opt, x, y.astype(float), epochs=1)
    bad = x.copy()
    bad[3, 1] = np.nan
    raises_one_line(r"x contains NaN", fit, model, loss, opt, bad, y, epochs=1)
    raises_one_line(
        r"x_val contains NaN", fit, model, loss, opt, x, y, epochs=1, validation_data=(bad, y)
    )
    raises_one_line(
        r"batch_size must be a positive int", fit, model, loss, opt, x, y, epochs=1, batch_size=0
    )
    raises_one_line(r"epochs must be", fit, model, loss, opt, x, y, epochs=1.5)
    raises_one_line(
        r"needs validation_data", fit, model, loss, opt, x, y, epochs=1, early_stopping=2
    )
    raises_one_line(r"clip_norm", fit, model, loss, opt, x, y, epochs=1, clip_norm=-1.0)


def test_model_forward_rejects_bad_input(setup):
    model, _, x, _ = setup
    raises_one_line(r"shape \(n, 4\)", model.forward, x[:, :2])
    raises_one_line(r"shape \(n, 4\)", model.forward, x[0])
    bad = x.copy()
    bad[0, 0] = np.inf
    raises_one_line("NaN or inf", model.forward, bad)
    raises_one_line("NaN or inf", model.predict, bad)


def test_losses_reject_bad_targets():
    z = np.zeros((4, 3))
    raises_one_line(r"in \[0, 2\]", CrossEntropyLoss().forward, z, np.array([0, 1, 3, 0]))
    raises_one_line(r"shape \(4,\)", CrossEntropyLoss().forward, z, np.array([0, 1]))
    # the range check covers negative labels of every integer width and byte order
    for dt in ("i1", ">i2", "<i8", ">i8"):
        raises_one_line(
            r"got range \[-1, 1\]", CrossEntropyLoss().forward, z, np.array([0, 1, -1, 0], dt)
        )
    assert CrossEntropyLoss().forward(z, np.array([0, 1, 2, 0], ">i8")) == pytest.approx(np.log(3))
    raises_one_line("integers", CrossEntropyLoss().forward, z, np.array([0.0, 1, 2, 0]))
    raises_one_line(r"shape \(4, 3\)", CrossEntropyLoss().forward, z, np.ones((4, 2)) / 2)
    raises_one_line("NaN", MSELoss().forward, z, np.full((4, 3), np.nan))
    raises_one_line("does not match", MSELoss().forward, z, np.zeros((4, 2)))
    raises_one_line(
        r"\[0, 1\]", get_loss("bce_with_logits").forward, np.zeros(4), np.array([0, 1, 2, 0])
    )
    raises_one_line("l2 must be", CrossEntropyLoss, l2=-1.0)


@pytest.mark.parametrize(
    ("fn", "args", "valid"),
    [
        (get_activation, ("swish",), "gelu, identity, leaky_relu, relu, sigmoid, softmax, tanh"),
        (get_initializer, ("lecun",), "he_normal, he_uniform, normal, uniform, xavier_normal"),
        (get_loss, ("hinge",), "bce_with_logits, cross_entropy, mse"),
        (get_schedule, ("linear",), "constant, cosine, exponential, one_cycle, plateau, step"),
        (
            get_optimizer,
            ("lbfgs", []),
            "adagrad, adam, adamw, momentum, nadam, nesterov, rmsprop, sgd",
        ),
    ],
)
def test_unknown_names_list_valid_ones(fn, args, valid):
    raises_one_line(valid, fn, *args)


def test_bad_constructor_arguments():
    raises_one_line("does not take", get_initializer, "he_normal", gain=2.0)
    raises_one_line("does not take", get_schedule, "step", lr=1.0, warmup_epochs=1)
    raises_one_line("in_features", Dense, 0, 3)
    raises_one_line("dtype must be float32 or float64", Dense, 2, 3, dtype=np.float16)
    raises_one_line(r"p must be in \[0, 1\)", Dropout, 1.0)
    raises_one_line("rng must be", Dense, 2, 3, rng="seed")
    raises_one_line("2 hidden layers", MLP, [2, 3, 3, 1], activation=["relu"])
    raises_one_line("lists 2 names for 3 neurons", MLP, [2, 3, 1], activation=[["relu", "tanh"]])
    raises_one_line("warmup_epochs", get_schedule, "cosine", lr=1.0, epochs=3, warmup_epochs=3)
    raises_one_line("non-empty list of Parameters", get_optimizer, "adam", [])

"""nnlib: fully-connected neural networks in NumPy, with torch.optim's update rules.

Quick API (see each docstring for details)::

    import numpy as np
    from nnlib import MLP, get_optimizer, get_loss, get_schedule, fit, save_model, load_model
    from nnlib import metrics

    model = MLP([n_in, 64, 64, n_out], activation="relu", init="he_normal", dropout=0.0,
                dtype=np.float32, rng=np.random.default_rng(0))
    opt = get_optimizer("adam", model.parameters(), lr=1e-3)   # sgd rmsprop adam adamw
    loss = get_loss("cross_entropy", l2=0.0)                    # also mse, bce_with_logits
    sched = get_schedule("cosine", lr=1e-3, epochs=20, warmup_epochs=1)
    result = fit(model, loss, opt, x, y, epochs=20, batch_size=64,
                 validation_data=(xv, yv), schedule=sched, early_stopping=5,
                 clip_norm=None, callbacks=[], seed=0, checkpoint="ckpt.npz", verbose=True)
    result.status, result.history, result.epochs_run      # "ok" | "early_stopped" | "diverged"
    model.predict(x_test); metrics.precision_recall_f1(y_test, y_hat, n_classes)
    save_model(model, "model.npz"); model = load_model("model.npz")

Building blocks: ``Parameter`` (data, grad), ``Module`` (forward(x, training),
backward(grad_out) -> grad_in, parameters(), zero_grad()), ``Dense``, ``Dropout``,
``Residual``, ``Sequential``, activations, losses, initializers, optimizers, schedules,
``clip_grad_norm`` and ``gradcheck``. Everything is float32 by default (float64 on request)
and every random draw comes from a seed or a ``numpy.random.Generator`` passed in.
"""

from . import init, metrics
from .activations import GELU, Identity, LeakyReLU, MixedActivation, ReLU, Sigmoid, Softmax, Tanh
from .checkpoint import CheckpointError
from .core import ForwardStateError, Module, Parameter
from .gradcheck import gradcheck, gradcheck_module, numerical_gradient, relative_error
from .init import calculate_gain
from .layers import MLP, Dense, Dropout, Residual, Sequential
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .lrfind import LRFindResult, lr_find, suggest_lr
from .norm import BatchNorm1d, LayerNorm
from .optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    NAdam,
    Optimizer,
    RMSprop,
    clip_grad_norm,
    global_grad_norm,
)
from .registry import (
    get_activation,
    get_initializer,
    get_loss,
    get_norm,
    get_optimizer,
    get_schedule,
)
from .schedules import (
    Constant,
    CosineWarmup,
    Exponential,
    OneCycle,
    ReduceLROnPlateau,
    Schedule,
    StepDecay,
)
from .serialize import load_model, module_from_config, save_model
from .training import HISTORY_KEYS, FitResult, evaluate, fit

__all__ = [
    "GELU",
    "HISTORY_KEYS",
    "MLP",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "CheckpointError",
    "Constant",
    "CosineWarmup",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "Exponential",
    "FitResult",
    "ForwardStateError",
    "Identity",
    "LRFindResult",
    "LayerNorm",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "MixedActivation",
    "NAdam",
    "Module",
    "OneCycle",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReduceLROnPlateau",
    "ReLU",
    "Residual",
    "Schedule",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StepDecay",
    "Tanh",
    "calculate_gain",
    "clip_grad_norm",
    "evaluate",
    "fit",
    "get_activation",
    "get_initializer",
    "get_loss",
    "get_norm",
    "get_optimizer",
    "get_schedule",
    "global_grad_norm",
    "gradcheck",
    "gradcheck_module",
    "init",
    "load_model",
    "lr_find",
    "metrics",
    "module_from_config",
    "numerical_gradient",
    "relative_error",
    "save_model",
    "suggest_lr",
]

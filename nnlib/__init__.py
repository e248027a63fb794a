"""nnlib: fully-connected neural networks in NumPy, with torch.optim's update rules.

Quick API (see each docstring for details)::

    import numpy as np
    from nnlib import MLP, get_optimizer, get_loss, get_schedule, fit, save_model, load_model
    from nnlib import lr_find, metrics, CheckpointError

    model = MLP([n_in, 64, 64, n_out], activation="relu", init="he_normal", dropout=0.0,
                norm=None, dtype=np.float32, rng=np.random.default_rng(0))  # norm: batch|layer
    opt = get_optimizer("adam", model.parameters(), lr=1e-3)
    #     sgd momentum nesterov rmsprop adam adamw adagrad nadam
    loss = get_loss("cross_entropy", l2=0.0)                    # also mse, bce_with_logits
    sched = get_schedule("cosine", lr=1e-3, epochs=20, warmup_epochs=1)
    #     constant step exponential cosine(per_step=...) one_cycle plateau
    found = lr_find(model, loss, opt, x, y)                    # .lrs .losses .smoothed .suggestion
    result = fit(model, loss, opt, x, y, epochs=20, batch_size=64,
                 validation_data=(xv, yv), schedule=sched, early_stopping=5,
                 monitor="val_loss", min_delta=0.0, divergence_factor=100.0,
                 clip_norm=None, callbacks=[], seed=0, checkpoint="ckpt.npz", verbose=True)
    result.status, result.history, result.epochs_run      # "ok" | "early_stopped" | "diverged"
    result.best_epoch, result.monitor, result.best_score
    model.predict(x_test), model.predict_proba(x_test), model.score(x_test, y_test)
    metrics.precision_recall_f1(y_test, y_hat, n_classes)
    save_model(model, "model.npz"); model = load_model("model.npz")

Building blocks: ``Parameter`` (data, grad), ``Module`` (forward(x, training),
backward(grad_out) -> grad_in, parameters(), buffers(), zero_grad()), ``Dense``, ``Dropout``,
``BatchNorm1d``, ``LayerNorm``, ``Residual``, ``Sequential``, activations, losses,
initializers, optimizers, schedules (per epoch and per step), ``clip_grad_norm``,
``gradcheck`` and ``lr_find``. Everything is float32 by default (float64 on request); modules
refuse inputs of another dtype (``fit``, ``evaluate`` and the ``predict`` family convert).
Every random draw comes from a seed or a ``numpy.random.Generator`` passed in. A damaged
checkpoint raises ``CheckpointError``; ``backward`` before a training forward raises
``ForwardStateError``.
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

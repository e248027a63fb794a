"""Which built-in problems let the default study's 8 variants (sgd, momentum, rmsprop, adam x
relu, sigmoid; He init) separate, at what cost per run?

For each candidate problem (a built-in dataset with its generator settings, sample count,
split fractions, epochs, batch size and hidden sizes) the data are made by the pipeline's own
``nnstudy.datasets.prepare`` (generate, stratified split, standardise), then every variant is
tuned and trained with nnlib's ``fit`` on one BLAS thread:

- lr search: the optimizer's lr (config.yaml's ``defaults.optimizers``) times each of the
  candidate's ``lr_factors`` (LR_FACTORS unless set), seed TUNE_SEED, the full budget; the
  last epoch's validation accuracy selects (ties: the smaller lr), as the study's tuning does;
- finals: the selected lr with seeds 0-4, scored on validation (last epoch) and test.

Targets, per problem: the span of the variants' test means (best - worst) > 3x the typical
seed sd (median over variants of the sd over seeds); no more than half the variants share a
test mean rounded to the test set's resolution (1 / test size); the variant best on the
validation mean leads the runner-up by more than the standard error of that difference (over
seeds), is best on the test mean too, and test-best in most seeds; training <= 0.3 CPU s per
run (the median of a variant's runs, for the slowest variant; CPU time because the machine is
shared: the wall time, the history's seconds as train.json counts them, is printed beside it).

Candidates whose generator settings are not a catalog entry are measured under a temporary
name registered for the run (``candidate_generator``): the same ``prepare`` code path.

Run: .venv/bin/python benchmarks/explore_default_study.py [candidate label ...] (all when none;
the README section records the last run, so record the full list).
"""

from __future__ import annotations

import contextlib
import functools
import math
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from nnstudy.datasets import DatasetSpec, builtin, get_spec, load_split, prepare
from record import recorded
from threadpoolctl import threadpool_limits

from nnlib import MLP, fit, get_loss, get_optimizer, get_schedule

ROOT = Path(__file__).resolve().parents[1]
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
ACTIVATIONS = ("relu", "sigmoid")
LR_FACTORS = (0.316, 1.0, 3.16, 10.0, 31.6)
TUNE_SEED = 100
SEEDS = (0, 1, 2, 3, 4)
SPAN_OVER_SD = 3.0
RUN_SECONDS = 0.3


@dataclass(frozen=True)
class Candidate:
    """One problem as the study would see it; ``generator`` (with ``n_classes``) measures
    generator settings that are no catalog entry yet, under the label as dataset name."""

    label: str
    dataset: str
    epochs: int
    n_samples: int = 3000
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    batch_size: int = 32
    hidden: tuple[int, ...] = (64, 64)
    data_seed: int = 0
    generator: Callable | None = None
    n_classes: int | None = None
    lr_factors: tuple[float, ...] = LR_FACTORS

    def settings(self) -> str:
        return (
            f"n_samples {self.n_samples}, val_fraction {self.val_fraction}, test_fraction "
            f"{self.test_fraction}, epochs {self.epochs}, batch {self.batch_size}, "
            f"hidden {list(self.hidden)}, data seed {self.data_seed}, lr factors "
            f"{self.lr_factors}"
        )


@dataclass
class Variant:
    optimizer: str
    activation: str
    lr: float = float("nan")
    val: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.optimizer}/{self.activation}"


@contextlib.contextmanager
def candidate_generator(candidate: Candidate) -> Iterator[DatasetSpec]:
    """The candidate's catalog entry; an unregistered generator is registered for the block."""
    if candidate.generator is None:
        yield get_spec(candidate.dataset)
        return
    name = candidate.label
    classes = tuple(f"class {i}" for i in range(candidate.n_classes))
    builtin.GENERATORS[name] = candidate.generator
    try:
        yield DatasetSpec(name=name, kind="builtin", class_names=classes)
    finally:
        del builtin.GENERATORS[name]


def prepared(candidate: Candidate, folder: Path) -> tuple[dict, int]:
    """The candidate's train/val/test (x, y) as the study's jobs load them; its class count."""
    with candidate_generator(candidate) as spec:
        card = prepare(
            spec.name,
            folder,
            spec=spec,
            val_fraction=candidate.val_fraction,
            test_fraction=candidate.test_fraction,
            n_samples=candidate.n_samples,
            data_seed=candidate.data_seed,
        )
    return {s: load_split(folder, s) for s in ("train", "val", "test")}, card["n_classes"]


def train(candidate, data, n_classes, optimizer, activation, lr, seed, optimizers, schedule):
    """(last-epoch val accuracy, test accuracy, training seconds, training CPU seconds) of
    one run; a diverged run scores -1 on validation (the worst), its test accuracy is that of
    the weights it stopped with."""
    x, y = data["train"]
    model = MLP(
        [x.shape[1], *candidate.hidden, n_classes],
        activation=activation,
        init="he_normal",
        rng=np.random.default_rng(seed),
    )
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in optimizers[optimizer].items()}
    params.pop("lr")
    sched = dict(schedule)
    cpu = time.process_time()
    result = fit(
        model,
        get_loss("cross_entropy"),
        get_optimizer(optimizer, model.parameters(), lr=lr, **params),
        x,
        y,
        epochs=candidate.epochs,
        batch_size=candidate.batch_size,
        validation_data=data["val"],
        schedule=get_schedule(sched.pop("name"), lr=lr, epochs=candidate.epochs, **sched),
        seed=seed,
    )
    cpu = time.process_time() - cpu
    val = result.history[-1]["val_accuracy"]
    val = float(val) if result.status != "diverged" and np.isfinite(val) else -1.0
    x_test, y_test = data["test"]
    with np.errstate(all="ignore"):  # a diverged model keeps its last finite weights
        test = float(np.mean(model.predict(x_test) == y_test))
    return val, test, result.train_seconds, cpu


def measure(candidate: Candidate, config: dict) -> tuple[list[Variant], int]:
    """Every variant tuned then trained with SEEDS; and the test set's size."""
    optimizers, schedule = config["defaults"]["optimizers"], config["defaults"]["schedule"]
    with tempfile.TemporaryDirectory() as tmp:
        data, n_classes = prepared(candidate, Path(tmp))
    run = functools.partial(
        train, candidate, data, n_classes, optimizers=optimizers, schedule=schedule
    )
    variants = []
    for optimizer in OPTIMIZERS:
        for activation in ACTIVATIONS:
            v = Variant(optimizer, activation)
            base = optimizers[optimizer]["lr"]
            lrs = [float(f"{base * f:.4g}") for f in candidate.lr_factors]
            scores = [run(optimizer, activation, lr, TUNE_SEED) for lr in lrs]
            v.lr = lrs[int(np.argmax([val for val, *_ in scores]))]
            finals = [run(optimizer, activation, v.lr, seed) for seed in SEEDS]
            v.val = [val for val, *_ in finals]
            v.test = [test for _, test, *_ in finals]
            v.seconds = [r[2] for r in scores + finals]
            v.cpu = [r[3] for r in scores + finals]
            variants.append(v)
    return variants, len(data["test"][1])


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def targets(variants: list[Variant], n_test: int) -> dict:
    """The numbers behind each target, and whether it is met."""
    val = {v.name: statistics.fmean(v.val) for v in variants}
    test = {v.name: statistics.fmean(v.test) for v in variants}
    span = max(test.values()) - min(test.values())
    typical_sd = statistics.median(sd(v.test) for v in variants)
    tie_count, tie_size = Counter(round(m * n_test) for m in test.values()).most_common(1)[0]
    best, runner_up = (v for v in sorted(variants, key=lambda v: val[v.name], reverse=True)[:2])
    lead = val[best.name] - val[runner_up.name]
    error = math.sqrt((sd(best.val) ** 2 + sd(runner_up.val) ** 2) / len(SEEDS))
    seed_best = np.max([v.test for v in variants], axis=0)
    slowest = max(variants, key=lambda v: statistics.median(v.cpu))
    out = {
        "val": val,
        "test": test,
        "span": span,
        "span_over_sd": span / typical_sd if typical_sd > 0 else math.inf,
        "typical_sd": typical_sd,
        "tie_size": tie_size,
        "tie_value": tie_count / n_test,
        "best": best.name,
        "runner_up": runner_up.name,
        "lead": lead,
        "lead_in_errors": lead / error if error > 0 else (math.inf if lead > 0 else 0.0),
        "best_on_test": test[best.name] == max(test.values()),
        # Seeds where the validation-best variant's test accuracy is the highest (ties count).
        "hits": int(np.sum(np.array(best.test) >= seed_best)),
        "slowest": slowest.name,
        "slowest_cpu": statistics.median(slowest.cpu),
    }
    out["met"] = {
        "span": out["span_over_sd"] > SPAN_OVER_SD,
        "ties": tie_size <= len(variants) // 2,
        "best": out["lead_in_errors"] > 1 and out["best_on_test"] and out["hits"] > len(SEEDS) / 2,
        "cost": out["slowest_cpu"] <= RUN_SECONDS,
    }
    return out


def report(candidate: Candidate, variants: list[Variant], n_test: int) -> dict:
    """Print the candidate's table and its targets; return :func:`targets`."""
    t = targets(variants, n_test)
    mark = {name: "pass" if ok else "FAIL" for name, ok in t["met"].items()}
    print(f"\n== {candidate.label}: {candidate.dataset}, {candidate.settings()}")
    print(
        f"{'variant':18s} {'lr':>8s} {'val mean':>9s} {'val sd':>7s} {'test mean':>10s} "
        f"{'test sd':>8s} {'wall s':>7s} {'cpu s':>6s}"
    )
    for v in sorted(variants, key=lambda v: -t["val"][v.name]):
        print(
            f"{v.name:18s} {v.lr:8.4g} {t['val'][v.name]:9.4f} {sd(v.val):7.4f} "
            f"{t['test'][v.name]:10.4f} {sd(v.test):8.4f} {statistics.median(v.seconds):7.3f} "
            f"{statistics.median(v.cpu):6.3f}"
        )
    print(f"test set {n_test} points (resolution {1 / n_test:.4f}); s: median of a variant's runs")
    print(
        f"span {t['span']:.4f} / typical seed sd {t['typical_sd']:.4f} = "
        f"{t['span_over_sd']:.1f} (target > {SPAN_OVER_SD:g}): {mark['span']}"
    )
    print(
        f"largest tie: {t['tie_size']} of {len(variants)} variants at test "
        f"{t['tie_value']:.4f} (target <= {len(variants) // 2}): {mark['ties']}"
    )
    print(
        f"validation-best {t['best']} leads {t['runner_up']} by {t['lead']:.4f} = "
        f"{t['lead_in_errors']:.1f} standard errors (target > 1); best test mean: "
        f"{t['best_on_test']}; test-best in {t['hits']}/{len(SEEDS)} seeds: {mark['best']}"
    )
    print(
        f"training CPU s per run, slowest variant ({t['slowest']}): {t['slowest_cpu']:.3f} "
        f"(target <= {RUN_SECONDS}): {mark['cost']}"
    )
    return t


# Today's default study, then the rejected and the recommended problems (see the README
# section for the measured tables). S: the recommended splits; T: val_fraction kept at 0.1.
# WIDE: lr factors up to 316x, to see whether a ranking is an artefact of the grid's top lr.
S = {"n_samples": 3000, "val_fraction": 0.2, "test_fraction": 0.3}
T = {"n_samples": 4000, "val_fraction": 0.1, "test_fraction": 0.3}
WIDE = (*LR_FACTORS, 100.0, 316.0)
CHECKERBOARD = {"epochs": 40, "batch_size": 64, **S}
PEAKS8 = {"epochs": 24, **S}
CANDIDATES = (
    Candidate("digits today", "digits", epochs=24),
    Candidate("spirals today", "spirals", epochs=45),
    Candidate("digits S", "digits", epochs=24, **S),
    Candidate("gmm S", "gmm", epochs=30, **S),
    Candidate(
        "spirals 2 turns S",
        "spirals",
        epochs=30,
        generator=functools.partial(builtin.spirals, turns=2.0),
        n_classes=3,
        **S,
    ),
    Candidate("teacher S", "teacher", epochs=30, **S),
    Candidate(
        "checkerboard noise 0.1 S",
        "checkerboard",
        epochs=30,
        generator=functools.partial(builtin.checkerboard, label_noise=0.1),
        n_classes=2,
        **S,
    ),
    Candidate("peaks8 T", "peaks8", epochs=30, **T),
    Candidate("checkerboard S 30 epochs", "checkerboard", epochs=30, **S),
    Candidate("checkerboard", "checkerboard", **CHECKERBOARD),
    Candidate("checkerboard data 1", "checkerboard", data_seed=1, **CHECKERBOARD),
    Candidate("checkerboard wide lr", "checkerboard", lr_factors=WIDE, **CHECKERBOARD),
    Candidate("peaks8", "peaks8", **PEAKS8),
    Candidate("peaks8 data 1", "peaks8", data_seed=1, **PEAKS8),
    Candidate("peaks8 wide lr", "peaks8", lr_factors=WIDE, **PEAKS8),
)


def chosen(labels: list[str]) -> tuple[Candidate, ...]:
    """The candidates named on the command line (all when none is)."""
    known = {c.label: c for c in CANDIDATES}
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ValueError(f"unknown candidates {unknown}; valid: {', '.join(known)}")
    return tuple(known[label] for label in labels) or CANDIDATES


def main(candidates: tuple[Candidate, ...]) -> int:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    print(
        f"lr factors (as listed per candidate) x config.yaml's optimizer lrs, tuning seed {TUNE_SEED}, "
        f"seeds {SEEDS}, one BLAS thread"
    )
    summary = []
    with threadpool_limits(limits=1):
        for candidate in candidates:
            summary.append((candidate, report(candidate, *measure(candidate, config))))
    print("\nsummary: targets met; best variant on validation; CPU s per run (slowest variant)")
    for candidate, t in summary:
        flags = " ".join(f"{k} {'pass' if ok else 'FAIL'}" for k, ok in t["met"].items())
        verdict = "all met" if all(t["met"].values()) else ""
        print(f"  {candidate.label:26s} {flags}  {t['best']:17s} {t['slowest_cpu']:.3f}  {verdict}")
    return 0


if __name__ == "__main__":
    picked = chosen(sys.argv[1:])
    with recorded(__file__):
        code = main(picked)
    sys.exit(code)

"""``nnstudy train``: one run from the command line, the run the DAG would make (and ``nnstudy
lr-find``, the range test of such a run; ``nnstudy status``, a study's progress as it runs:
:mod:`nnstudy.training.watch`).

The flags become a one-run experiment over the study's config (``--config``, else
``config.yaml`` in the current folder when there is one, else the built-in defaults: its
``data`` and ``defaults``), validated like config.yaml (the same one-line errors; a flag that
does not parse is one line too) and resolved by the same code (:mod:`nnstudy.config.runs`), so
the run gets the id and the folder ``results/runs/<dataset>/<run_id>/`` the DAG gives it. Its
data is prepared by the workflow's own ``prepare`` rule (a short Snakemake call) when it is
missing; then the run trains and is evaluated here, by the train job's code
(:func:`nnstudy.training.job.main`), which records the files' checksums as a job does. A later
``snakemake`` that contains the run reuses it. A run that is already there (its files recorded
complete) is reported, not trained again (``--force`` retrains it). Ctrl-C stops it with one
line and exit status 130; the same command then resumes the run from its last checkpoint.

    nnstudy train --dataset digits --optimizer momentum --momentum 0.9 --lr 0.05 --epochs 20
    python -m nnstudy train --help
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnstudy.config.nnlib_schema import schedule_params
from nnstudy.config.runs import canonical_json, study_rows
from nnstudy.config.validation import ConfigError, read_config, schema, validate_config
from nnstudy.console import failures
from nnstudy.datasets.store import CARD, SPLITS
from nnstudy.invoke import run_snakemake
from nnstudy.jobs.frame import INTERRUPTED, Interrupted, interrupted_message
from nnstudy.jobs.integrity import intact
from nnstudy.training.job import job_argv
from nnstudy.training.job import main as train_job
from nnstudy.training.runfolder import (
    RUN_CHECKPOINT,
    RUN_DIR,
    RUN_LOG,
    file,
    read_history,
    read_json,
    read_status,
)

EXPERIMENT = "train"
# The study config read when --config is not given, if the current folder has one.
DEFAULT_CONFIG = "config.yaml"


def _names(key: str) -> str:
    """The valid names of one setting, from the config schema."""
    node = schema()["$defs"][key]
    return ", ".join(map(str, node.get("enum") or node["properties"]["name"]["enum"]))


def _int_list(text: str) -> list[int]:
    """``64,64`` -> [64, 64]; ``''`` -> [] (for --hidden: no hidden layer)."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers, e.g. 64,64"
        ) from None


def _float_list(text: str) -> list[float]:
    """``0.9,0.999`` -> [0.9, 0.999]."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers, e.g. 0.9,0.999"
        ) from None


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the cause and where the help is, without the usage block
    (a screenful for ``train``)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="nnstudy", description="The study, one run at a time.")
    commands = top.add_subparsers(dest="command", required=True)
    p = commands.add_parser(
        "train",
        help="train and evaluate one run (the run the DAG would make for these settings)",
        description="Train and evaluate one run: the run, id and folder the DAG makes for "
        "the same settings over the config's defaults (a later snakemake reuses it).",
    )
    add_run_flags(p)
    p.add_argument("--force", action="store_true", help="train again if the run exists")
    add_lr_find_parser(commands)
    p = commands.add_parser(
        "status",
        help="a study's runs done / running / waiting, each running run's epoch and time left",
        description="Run in a study's folder, also while it runs: per experiment the runs "
        "done, running and waiting, a line per running run (epoch, validation accuracy, time "
        "left) and the training time left (nnstudy.training.watch).",
    )
    p.add_argument("--config", help=f"the study's config (default: {DEFAULT_CONFIG} here)")
    p.add_argument("--plot", metavar="PNG", help="draw the running runs' val accuracy curves")
    return top


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """The flags that make one run (``train``'s, and ``lr-find``'s)."""
    p.add_argument(
        "--config",
        help=f"study config for data and defaults (default: {DEFAULT_CONFIG} if there is one here, "
        "else the built-in defaults)",
    )
    p.add_argument("--dataset", required=True, help=f"one of: {_names('dataset')}")
    run = p.add_argument_group("run settings (default: the config's defaults)")
    run.add_argument(
        "--hidden", type=_int_list, help="hidden layer sizes, e.g. 64,64 ('' for none)"
    )
    run.add_argument(
        "--activation",
        help=f"one of: {_names('activation')}; per hidden layer: relu,tanh; a mixed layer "
        "(neurons split in equal blocks): relu,relu+tanh",
    )
    run.add_argument(
        "--initializer",
        help=f"one of: {_names('initializer')}; per Dense layer (hidden, then output): he,he,xavier",
    )
    run.add_argument("--loss", help=f"one of: {_names('loss')} (mse on one-hot targets)")
    run.add_argument(
        "--norm",
        help=f"normalization before each hidden activation, one of: {_names('norm')}; per "
        "hidden layer: batch,none",
    )
    run.add_argument(
        "--residual", action="store_true", default=None, help="skip connections (x + block(x))"
    )
    run.add_argument("--optimizer", help=f"one of: {_names('optimizer')}")
    run.add_argument("--lr", type=float, help="learning rate (default: the optimizer's own)")
    run.add_argument("--batch-size", type=int)
    run.add_argument("--epochs", type=int)
    run.add_argument("--dropout", type=float)
    run.add_argument("--l2", type=float, help="L2 penalty on the weights")
    run.add_argument("--schedule", help=f"lr schedule, one of: {_names('schedule')}")
    run.add_argument("--clip-norm", type=float, help="clip the global gradient norm")
    run.add_argument(
        "--early-stopping", type=int, help="patience in epochs (on --monitor, default val_loss)"
    )
    run.add_argument("--monitor", help="early stopping: val_loss or val_accuracy")
    run.add_argument(
        "--min-delta", type=float, help="early stopping: the least change that is an improvement"
    )
    run.add_argument("--augment", action="store_true", help="random shift and flip (images)")
    run.add_argument("--pad", type=int, help="augment: shift by up to this many pixels")
    run.add_argument("--no-flip", action="store_true", help="augment: no horizontal flip")
    run.add_argument("--dtype", help="float32 or float64")
    run.add_argument("--snapshot-every", type=int, help="epochs between weight snapshots")
    run.add_argument("--seed", type=int, default=0)
    _add_keyword_flags(
        p.add_argument_group("optimizer hyper-parameters (default: config's defaults.optimizers)"),
        optimizer_flags(),
    )
    _add_keyword_flags(
        p.add_argument_group("schedule parameters (default: nnlib's, torch's)"), schedule_flags()
    )


SETTINGS = ("optimizer", "lr", "batch_size", "epochs", "dropout", "l2", "clip_norm")
SETTINGS += ("dtype", "snapshot_every", "loss", "residual")


@dataclass(frozen=True)
class KeywordFlag:
    """A command-line flag for one keyword argument of nnlib's optimizers or schedules."""

    key: str  # the keyword (the config's key)
    dest: str  # argparse's attribute
    defaults: tuple  # nnlib's default for each user; the first one's type is the flag's
    users: tuple[str, ...]  # the optimizers or schedules that take it


def _keyword_flags(signatures: dict[str, dict[str, Any]], taken=(), prefix="") -> list:
    """One flag per keyword of ``signatures`` (name -> {keyword: default}); a keyword whose
    name is ``taken`` by another flag gets ``prefix``."""
    users: dict[str, dict[str, Any]] = {}
    for name, keywords in signatures.items():
        for key, default in keywords.items():
            users.setdefault(key, {})[name] = default
    return [
        KeywordFlag(key, f"{prefix}{key}" if key in taken else key, tuple(by.values()), tuple(by))
        for key, by in users.items()
    ]


def optimizer_flags() -> list[KeywordFlag]:
    """A flag per hyper-parameter (but lr) of nnlib's optimizers: ``--weight-decay``."""
    from nnlib.registry import optimizer_defaults, optimizer_names

    signatures = {
        name: {k: v for k, v in optimizer_defaults(name).items() if k != "lr"}
        for name in optimizer_names()
    }
    return _keyword_flags(signatures)


def schedule_flags() -> list[KeywordFlag]:
    """A flag per keyword of nnlib's schedules (``--warmup-epochs``); one whose name another
    flag has is ``--schedule-<name>`` (``--schedule-eps``, plateau's eps)."""
    taken = {f.key for f in optimizer_flags()} | set(RUN_FLAGS)
    return _keyword_flags(schedule_params(), taken, "schedule_")


# The run settings' flags that a schedule's keyword may not take (besides the optimizers').
RUN_FLAGS = ("monitor", "min_delta", "norm")


def _add_keyword_flags(group, flags: list[KeywordFlag]) -> None:
    for flag in flags:
        default = flag.defaults[0]
        option = "--" + flag.dest.replace("_", "-")
        shown = f"[{', '.join(map(str, default))}]" if isinstance(default, tuple) else default
        text = ", ".join(flag.users)
        if len(set(flag.defaults)) == 1:  # else it depends on the optimizer (an alias's)
            text += f" (nnlib's default: {shown})"
        if isinstance(default, bool):
            kind = {"action": argparse.BooleanOptionalAction}
        elif isinstance(default, tuple):
            kind = {"type": _float_list, "metavar": ",".join(["X"] * len(default))}
        else:
            kind = {"type": type(default)} if isinstance(default, int | float | str) else {}
        group.add_argument(option, dest=flag.dest, default=None, help=text, **kind)


def _given(args: argparse.Namespace, flags: list[KeywordFlag]) -> dict[str, Any]:
    """{keyword: value} of the flags given on the command line."""
    return {f.key: getattr(args, f.dest) for f in flags if getattr(args, f.dest) is not None}


def _layers(text: str):
    """``relu`` -> "relu"; ``relu,relu+tanh`` -> ["relu", ["relu", "tanh"]]."""
    if "," not in text and "+" not in text:
        return text
    return [part.split("+") if "+" in part else part for part in text.split(",")]


def _early_stopping(args: argparse.Namespace, base):
    """--early-stopping, with --monitor and --min-delta a rule over the config's (``base``: a
    patience, a rule or None); None when none of them is given."""
    rule = {k: getattr(args, k) for k in ("monitor", "min_delta") if getattr(args, k) is not None}
    if not rule:
        return args.early_stopping
    base = base if isinstance(base, dict) else {"patience": base}
    patience = args.early_stopping if args.early_stopping is not None else base["patience"]
    return {**base, "patience": patience, **rule}


def config_file(args: argparse.Namespace) -> Path | None:
    """The study config file to read: ``--config`` (a missing one is an error), else
    :data:`DEFAULT_CONFIG` when the current folder has one, else None (built-in defaults)."""
    if args.config is None:
        return Path(DEFAULT_CONFIG) if Path(DEFAULT_CONFIG).is_file() else None
    path = Path(args.config)
    if not path.is_file():
        raise ConfigError(
            f"config: --config {path}: no such file (leave --config out to use "
            f"{DEFAULT_CONFIG} of this folder, or the built-in defaults without one)"
        )
    return path


def study_config(args: argparse.Namespace) -> dict[str, Any]:
    """The study config with the run as its only selected experiment (not yet validated)."""
    config = read_config(config_file(args))
    fixed = {k: getattr(args, k) for k in SETTINGS if getattr(args, k) is not None}
    for key in ("activation", "initializer", "norm"):
        if getattr(args, key) is not None:
            fixed[key] = _layers(getattr(args, key))
    if args.hidden is not None:
        fixed["hidden"] = args.hidden
    early_stopping = _early_stopping(args, config.get("defaults", {}).get("early_stopping"))
    if early_stopping is not None:
        fixed["early_stopping"] = early_stopping
    schedule = _given(args, schedule_flags())
    if args.schedule is not None or schedule:
        base = config.get("defaults", {}).get("schedule", {"name": "constant"})
        name = args.schedule or base["name"]
        kept = {k: v for k, v in base.items() if name == base["name"] and k != "name"}
        fixed["schedule"] = {"name": name, **kept, **schedule}
    if args.augment or args.pad is not None or args.no_flip:
        fixed["augment"] = {"pad": 4 if args.pad is None else args.pad, "flip": not args.no_flip}
    params = _given(args, optimizer_flags())
    optimizer = fixed.get("optimizer") or config.get("defaults", {}).get("optimizer", "adam")
    experiment = {"datasets": [args.dataset], "fixed": fixed, "seeds": [args.seed]}
    if params:
        experiment["optimizers"] = {optimizer: params}
    return {
        **{k: v for k, v in config.items() if k in ("data", "defaults")},
        "experiments": {EXPERIMENT: experiment},
        "select": [EXPERIMENT],
        "wandb": {"mode": "disabled"},
    }


def resolve(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(validated study config, the run config with its run_id) or a ConfigError."""
    config = validate_config(study_config(args))
    (row,) = study_rows(config)
    return config, {**row.run, "run_id": row.run_id}


def prepare_data(config: dict[str, Any], dataset: str, config_path: Path | None) -> Path:
    """The prepared dataset's folder, made by the workflow's ``prepare`` rule if missing."""
    folder = Path(config["data"]["processed_dir"]) / dataset
    targets = [str(folder / name) for name in (*(f"{s}.npz" for s in SPLITS), CARD)]
    if all(Path(t).is_file() for t in targets):
        return folder
    print(f"preparing {dataset} (snakemake's prepare rule) ...", flush=True)
    experiments = json.dumps({EXPERIMENT: {"datasets": [dataset]}})
    # Without a config file, an empty one: the Snakefile's own (config.yaml) is then not needed.
    with tempfile.NamedTemporaryFile("w", suffix=".json") as empty:
        empty.write("{}")
        empty.flush()
        done = run_snakemake(
            *targets,
            "--configfile",
            str(config_path or empty.name),
            "--config",
            f"select=[{EXPERIMENT}]",
            f"experiments={experiments}",
            "--logger",
            "nnstudy",
            profile=None,
            cores=1,
            timeout=None,
        )
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if line.strip()][-1:]
        cause = "; ".join(failures(done.stderr) or tail) or "see .snakemake/log/"
        raise SystemExit(f"nnstudy train: preparing {dataset} failed: {cause}")
    return folder


def flag_names(message: str) -> str:
    """A config error about the command line's experiment, with its flags' names in place of
    the config's paths (``experiments.train.fixed.batch_size`` -> ``--batch-size``)."""
    here = rf"experiments\.{EXPERIMENT}\."
    message = re.sub(here + r"fixed\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), message)
    return re.sub(here + r"optimizers\.(\w+)", r"--optimizer \1", message)


def train(args: argparse.Namespace) -> int:
    try:
        config, run = resolve(args)
    except ConfigError as error:
        raise SystemExit(f"nnstudy train: {flag_names(str(error))}") from None
    where = {"dataset": run["dataset"], "run_id": run["run_id"]}
    folder = Path(RUN_DIR.format(**where))
    # A run cut short (Ctrl-C, a kill) left files, but no record that they are complete.
    if intact(file(folder, "metrics")) and not args.force:
        print(f"{summary(folder)} (already trained; --force trains it again)")
        return 0
    data = prepare_data(config, run["dataset"], config_file(args))
    log = Path(RUN_LOG.format(**where))
    log.parent.mkdir(parents=True, exist_ok=True)  # as Snakemake makes a job's log folder
    # The train rule's job, with its params.
    job = argparse.Namespace(
        run=canonical_json(run),
        data=str(data),
        out=str(folder),
        checkpoint=RUN_CHECKPOINT.format(**where),
        evaluate=True,
    )
    train_job([*job_argv(job, 1, str(log)), "--echo"])
    print(summary(folder))
    return 0


def summary(folder: Path) -> str:
    """The closing line: status, test metrics and where the run lives."""
    m = read_json(file(folder, "metrics"))
    status = read_status(folder)
    scores = ", ".join(
        f"{k} {m[k]:.4f}"
        for k in ("test_accuracy", "test_loss", "f1_macro")
        if isinstance(m.get(k), float)
    )
    return f"{status}: {scores or 'no test metrics'}; run {folder}/"


# Where ``nnstudy lr-find`` writes its plot by default (a run id names the variant).
LR_FIND_PLOT = "results/lr_find/{dataset}/{run_id}.png"


def add_lr_find_parser(commands) -> None:
    from nnlib import lr_find

    defaults = {
        k: v.default
        for k, v in inspect.signature(lr_find).parameters.items()
        if k in ("start_lr", "end_lr", "num_steps")
    }
    p = commands.add_parser(
        "lr-find",
        help="the learning-rate range test of one run's model on its training split",
        description="Smith's learning-rate range test (nnlib.lr_find) for the run these flags "
        "make: the lr grows exponentially over mini-batches of the training split; prints the "
        "suggested lr and writes the loss-vs-lr plot (the run itself is not trained).",
    )
    add_run_flags(p)
    test = p.add_argument_group("range test (default: nnlib.lr_find's)")
    for key, kind in (("start_lr", float), ("end_lr", float), ("num_steps", int)):
        option = "--" + key.replace("_", "-")
        test.add_argument(option, type=kind, default=defaults[key], help=f"{defaults[key]}")
    test.add_argument("--plot", help=f"PNG to write (default: {LR_FIND_PLOT})")


def lr_find_command(args: argparse.Namespace) -> int:
    """``nnstudy lr-find``: one line with the suggestion and the plot's path."""
    from nnlib import lr_find
    from nnstudy.datasets import load_split
    from nnstudy.training.job import build

    try:
        config, run = resolve(args)
    except ConfigError as error:
        raise SystemExit(f"nnstudy lr-find: {flag_names(str(error))}") from None
    data = prepare_data(config, run["dataset"], config_file(args))
    card = json.loads((data / CARD).read_text())
    x, y = load_split(data, "train")
    model, loss, optimizer, _ = build(run, x.shape[1], int(card["n_classes"]))
    bounds = {k: getattr(args, k) for k in ("start_lr", "end_lr", "num_steps")}
    try:
        found = lr_find(
            model, loss, optimizer, x, y, batch_size=run["batch_size"], seed=run["seed"], **bounds
        )
    except ValueError as error:
        raise SystemExit(f"nnstudy lr-find: {error}") from None
    plot = Path(args.plot or LR_FIND_PLOT.format(**run))
    plot_lr_find(found, plot, f"{run['dataset']}, {run['optimizer']} (run {run['run_id']})")
    shown = "none (too few steps)" if found.suggestion is None else f"{found.suggestion:.3g}"
    steps = f"{len(found.lrs)} steps, lr {found.lrs[0]:.3g} to {found.lrs[-1]:.3g}"
    print(f"suggested lr {shown} ({steps}); plot {plot}")
    return 0


def plot_lr_find(found, path: Path, title: str) -> None:
    """The loss and smoothed loss against the lr (log scale), the suggestion marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(found.lrs, found.losses, color="0.75", lw=0.8, label="loss")
    ax.plot(found.lrs, found.smoothed, color="C0", label="smoothed")
    if found.suggestion is not None:
        ax.axvline(found.suggestion, color="C3", ls="--", label=f"suggested {found.suggestion:.3g}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="training loss", title=title)
    # The blow-up at the end would flatten the part that is read: up to 1.5 x the first loss.
    low, first = min(found.smoothed), found.smoothed[0]
    ax.set_ylim(low - 0.1 * (first - low), 1.5 * first)
    ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def status(args: argparse.Namespace) -> int:
    """``nnstudy status``: the study's progress (:func:`status_lines`), and ``--plot``'s PNG."""
    from nnstudy.training.watch import study_progress

    config = Path(args.config or DEFAULT_CONFIG)
    if not config.is_file():
        raise SystemExit(
            f"nnstudy status: no study here: {Path.cwd()} has no {config} (run it in the study's "
            "folder, or give the study's --config)"
        )
    try:
        study = study_progress(config)
        print("\n".join(status_lines(study)))
        if args.plot:
            plot_running(study.runs, Path(args.plot))
            print(f"plot {args.plot}")
    except ValueError as error:  # ConfigError, an unreadable history or tuning record
        raise SystemExit(f"nnstudy status: {error}") from None
    return 0


def status_lines(study) -> list[str]:
    """Per experiment its counts and a line per running run; then the study's totals and the
    training time left (``study``: :func:`nnstudy.training.watch.study_progress`'s)."""
    from nnstudy.console import clock
    from nnstudy.training.watch import DONE, RUNNING, WAITING

    def counts(group) -> str:
        states = [r.state for r in group]
        return ", ".join(f"{states.count(s)} {s}" for s in (DONE, RUNNING, WAITING))

    runs, by_experiment = study.runs, {}
    for run in runs:
        for name in run.experiments:
            by_experiment.setdefault(name, []).append(run)
    lines = []
    for name, group in by_experiment.items():
        line = f"{name}: {counts(group)}"
        if study.open_searches.get(name):
            n = study.open_searches[name]
            line += f"; {n} searches open: later rungs and finals not counted yet"
        lines.append(line)
        for r in (r for r in group if r.state == RUNNING):
            acc = "-" if r.val_accuracy is None else f"{r.val_accuracy:.4f}"
            left = (
                "time left unknown" if r.seconds_left is None else f"~{clock(r.seconds_left)} left"
            )
            lines.append(f"  {r.name}: epoch {r.epochs_done}/{r.epochs}, val acc {acc}, {left}")
    timed = [r.seconds_left for r in runs if r.seconds_left is not None]
    total = f"total: {counts(runs)}; "
    if not timed:
        return [*lines, total + "training time left unknown (no epoch measured yet)"]
    total += f"~{clock(sum(timed))} of training left"
    if len(timed) < len(runs):
        total += f" + {len(runs) - len(timed)} runs not timed yet"
    running = sum(r.state == RUNNING for r in runs)
    if running > 1:  # the jobs share the remaining work
        total += f" (~{clock(sum(timed) / running)} at {running} runs at a time)"
    searches = sum(study.open_searches.values())
    if searches:
        total += f", more for {searches} open searches"
    return [*lines, total]


def plot_running(runs, path: Path) -> None:
    """The running runs' validation accuracy by epoch, one line each, into the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnstudy.training.watch import RUNNING

    fig, ax = plt.subplots(figsize=(6, 3.6))
    running = [r for r in runs if r.state == RUNNING]
    for r in running:
        rows = read_history(file(r.run_dir, "history"))
        ax.plot(
            [row["epoch"] for row in rows],
            [row["val_accuracy"] for row in rows],
            marker=".",
            label=r.name,
        )
    if running:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no run is training", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="epoch", ylabel="validation accuracy", title="running runs")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "lr-find":
        return lr_find_command(args)
    if args.command == "status":
        return status(args)
    if args.command != "train":
        raise AssertionError(args.command)
    try:
        return train(args)
    except (KeyboardInterrupt, Interrupted):  # Ctrl-C, in the job's frame or around it
        command = "the same nnstudy train command"
        print(f"nnstudy train: {interrupted_message(command)}", file=sys.stderr, flush=True)
        return INTERRUPTED

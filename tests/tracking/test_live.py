"""Live W&B logging: a training job (python -m nnstudy.training.job, as the workers run it) logs
its run while it trains; real wandb in offline mode, read back with wandb's own reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from nnstudy.config.runs import canonical_json, unique_runs
from nnstudy.training import workers
from nnstudy.training.job import job_argv
from nnstudy.training.runfolder import read_history
from nnstudy.training.tracking import live_param, live_record_path, log_runs
from wandb_files import logged_history, offline_runs, wandb_records

# What differs between two loggings of the same run: when they happened (the confusion
# table is a file with a random name, compared by content).
CLOCK = ("_runtime", "_timestamp", "_wandb.runtime")


def spec(wandb_dir: Path, mode: str = "offline", job_type: str = "train", **names) -> str:
    """A job's --wandb argument, as rule train's param gives it."""
    params = live_param(
        {"mode": mode, "project": "p", "entity": None, "dir": str(wandb_dir)},
        names.get("rows", []),
        SimpleNamespace(experiments_of=lambda rid: names.get("experiments", ["core"])),
        job_type,
    )
    return params(SimpleNamespace(dataset="spirals", run_id="0" * 10), None)


def job(study, tmp_path: Path, rid: str, *args: str, code: str | None = None, **run) -> Path:
    """Run a training job (train + evaluate) for ``rid`` of the tiny study into ``tmp_path``
    (``run``: settings changed; the run id is kept); its run folder."""
    config = {**unique_runs(study.rows)[rid], **run}
    out = tmp_path / "runs" / rid
    argv = ["--run", canonical_json(config), "--data", str(study.root / "data" / "spirals")]
    argv += ["--out", str(out), "--log", str(tmp_path / f"{rid}.log"), "--evaluate", *args]
    entry = ["-m", "nnstudy.training.job"] if code is None else ["-c", code]
    done = subprocess.run(
        [sys.executable, *entry, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


def timeless(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in CLOCK and "_table." not in k}


def without_clock(history: dict[int, dict]) -> dict[int, dict]:
    return {step: timeless(item) for step, item in history.items()}


def test_a_training_job_logs_the_run_that_log_wandb_would_log(study, tmp_path, home):
    wandb_dir = tmp_path / "wandb"
    out = job(study, tmp_path, study.shared, "--wandb", spec(wandb_dir, experiments=["core"]))
    [folder] = offline_runs(wandb_dir)
    live = wandb_records(folder / f"run-{study.shared}.wandb")
    files_dir = tmp_path / "from-files"
    log_runs([(out, ["core"])], wandb_dir=files_dir, project="p")
    [again] = offline_runs(files_dir)
    after = wandb_records(again / f"run-{study.shared}.wandb")

    [run], [run_after] = ([r["run"] for r in rs if r["type"] == "run"] for rs in (live, after))
    for key in ("run_id", "display_name", "run_group", "job_type", "tags", "project"):
        assert run[key] == run_after[key], key
    assert run["config"] == run_after["config"]
    history = logged_history(live)
    assert sorted(history) == [0, 1, 2, 3, 4]
    assert without_clock(history) == without_clock(logged_history(after))
    # The confusion matrix (logged after evaluation) as the same table.
    cells = [
        json.loads((f / "files" / h[4]["confusion_matrix_table.path"]).read_text())
        for f, h in ((folder, history), (again, logged_history(after)))
    ]
    assert cells[0] == cells[1]
    # _runtime is the time since the job opened the run: it grows with the epochs.
    runtimes = [float(history[s]["_runtime"]) for s in sorted(history)]
    assert runtimes == sorted(runtimes) and runtimes[-1] > 0

    def summary(records):
        out = {}
        for r in records:
            if r["type"] == "summary":
                out.update(r["summary"].get("update", {}))
        return timeless(out)

    assert summary(live) == summary(after)
    assert (
        summary(live)["test_accuracy"]
        == json.loads((out / "metrics.json").read_text())["test_accuracy"]
    )

    # log_wandb keeps the live run: no second folder, the first one untouched.
    size = (folder / f"run-{study.shared}.wandb").stat().st_size
    record = log_runs([(out, ["core"])], wandb_dir=wandb_dir, project="p")
    assert [r["logged"] for r in record["runs"]] == ["live"]
    assert record["runs"][0]["wandb_run_dir"] == str(wandb_dir / "wandb" / folder.name)
    assert offline_runs(wandb_dir) == [folder]
    assert (folder / f"run-{study.shared}.wandb").stat().st_size == size


def test_log_wandb_logs_from_files_what_the_live_run_does_not_match(study, tmp_path, home):
    wandb_dir = tmp_path / "wandb"
    out = job(study, tmp_path, study.shared, "--wandb", spec(wandb_dir, experiments=["core"]))
    # Another experiment shares the run since: its W&B config lists both, so it is logged again.
    record = log_runs([(out, ["core", "extra"])], wandb_dir=wandb_dir, project="p")
    assert [r["logged"] for r in record["runs"]] == ["from files"]
    assert not live_record_path(wandb_dir, study.shared).exists()
    [folder] = offline_runs(wandb_dir)
    records = wandb_records(folder / f"run-{study.shared}.wandb")
    [run] = [r["run"] for r in records if r["type"] == "run"]
    assert run["config"]["update"]["experiments"] == ["core", "extra"]

    # A run trained again without W&B (its train.json is another) is not the live one.
    out = job(study, tmp_path, study.shared, "--wandb", spec(wandb_dir, experiments=["core"]))
    job(study, tmp_path, study.shared)
    record = log_runs([(out, ["core"])], wandb_dir=wandb_dir, project="p")
    assert [r["logged"] for r in record["runs"]] == ["from files"]


PAUSED = """
import sys, time
from pathlib import Path
from nnstudy.training import job, tracking

class Paused(tracking.LiveRun):
    # Waits after epoch {k} until the test has read the run's files.
    def on_epoch_end(self, epoch, row, model, optimizer):
        super().on_epoch_end(epoch, row, model, optimizer)
        if epoch == {k}:
            Path("paused").write_text(str(self.wb.dir))
            while not Path("go").exists():
                time.sleep(0.05)

job.LiveRun = Paused
job.main(sys.argv[1:])
"""


def test_an_offline_run_shows_its_epochs_while_it_trains(study, tmp_path, home):
    wandb_dir = tmp_path / "wandb"
    k, epochs = 5, 8
    argv = [sys.executable, "-c", PAUSED.format(k=k), "--run"]
    config = {**unique_runs(study.rows)[study.shared], "epochs": epochs}
    argv += [canonical_json(config), "--data", str(study.root / "data" / "spirals")]
    argv += ["--out", "run", "--log", "job.log", "--evaluate", "--wandb", spec(wandb_dir)]
    proc = subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "paused").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        [folder] = offline_runs(wandb_dir)
        wandb_file = folder / f"run-{study.shared}.wandb"
        # The job flushes its .wandb file every LIVE_FLUSH_SECONDS; W&B writes a step once a
        # later one comes, so after epoch k the file holds steps 0 .. k - 1.
        deadline = time.monotonic() + 20
        while sorted(history := logged_history(wandb_records(wandb_file))) != list(range(k)):
            assert time.monotonic() < deadline, sorted(history)
            time.sleep(0.5)
        assert [history[e]["epoch"] for e in range(1, k)] == list(range(1, k))
        assert proc.poll() is None  # still training
        # What `wandb sync` would upload now: this run's file (an upload needs the network).
        view = subprocess.run(
            [sys.executable, "-m", "wandb", "sync", "--dry-run", str(folder)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert f"run-{study.shared}.wandb" in view.stdout + view.stderr
        (tmp_path / "go").write_text("")
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()
    assert sorted(logged_history(wandb_records(wandb_file))) == list(range(epochs + 1))


def test_a_run_resumed_from_its_checkpoint_is_logged_from_its_files(study, tmp_path, home):
    """The epochs before the kill are in the checkpoint, not in the resumed job's W&B run."""
    wandb_dir = tmp_path / "wandb"
    config = {**unique_runs(study.rows)[study.shared], "epochs": 6}
    argv = ["--run", canonical_json(config), "--data", str(study.root / "data" / "spirals")]
    argv += ["--out", "run", "--log", "job.log", "--evaluate", "--wandb", spec(wandb_dir)]
    argv += ["--checkpoint", "ckpt"]
    env = {**os.environ, "NNSTUDY_CHECKPOINT_SECONDS": "0"}  # a checkpoint after every epoch
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSED.format(k=3), *argv], cwd=tmp_path, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "paused").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / "ckpt.npz").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "nnstudy.training.job", *argv], cwd=tmp_path, env=env, timeout=120
    )
    assert resumed.returncode == 0
    assert not live_record_path(wandb_dir, study.shared).exists()
    [folder] = offline_runs(wandb_dir)  # the killed job's folder is gone
    live = logged_history(wandb_records(folder / f"run-{study.shared}.wandb"))
    assert min(step for step, item in live.items() if "train_loss" in item) > 1
    record = log_runs([(tmp_path / "run", ["core"])], wandb_dir=wandb_dir, project="p")
    assert [r["logged"] for r in record["runs"]] == ["from files"]
    [folder] = offline_runs(wandb_dir)
    history = logged_history(wandb_records(folder / f"run-{study.shared}.wandb"))
    assert sorted(history) == list(range(7))


def test_disabled_never_imports_wandb_in_a_training_job(study, tmp_path):
    disabled = live_param({"mode": "disabled"}, [], None, "train")
    assert disabled(SimpleNamespace(dataset="spirals", run_id="0" * 10), None) is None
    params = SimpleNamespace(run="{}", data="d", out="o", checkpoint="c", evaluate=True)
    assert "--wandb" not in job_argv(SimpleNamespace(**vars(params), wandb=None), 1, "log")
    argv = job_argv(SimpleNamespace(**vars(params), wandb='{"mode": "offline"}'), 1, "log")
    assert argv[-2:] == ["--wandb", '{"mode": "offline"}']

    code = (
        "import sys; from nnstudy.training.job import main; main(sys.argv[1:]); "
        "assert 'wandb' not in sys.modules, 'wandb was imported'"
    )
    out = job(study, tmp_path, study.shared, code=code)
    assert json.loads((out / "train.json").read_text())["status"] == "ok"
    assert not (tmp_path / "wandb").exists()


def test_a_wandb_error_is_one_warning_line_and_the_run_trains(study, tmp_path, home):
    """Online without `wandb login`: W&B refuses the run; the training does not notice."""
    wandb_dir = tmp_path / "wandb"
    out = job(study, tmp_path, study.shared, "--wandb", spec(wandb_dir, mode="online"))
    log = (tmp_path / f"{study.shared}.log").read_text().splitlines()
    warnings = [line for line in log if "W&B" in line]
    assert len(warnings) == 1 and "warning: W&B live logging stopped" in warnings[0], log
    assert "wandb login" in warnings[0]
    assert json.loads((out / "metrics.json").read_text())["status"] == "ok"
    assert not live_record_path(wandb_dir, study.shared).exists()


def test_a_trial_is_its_own_wandb_run(study, tmp_path, home):
    wandb_dir = tmp_path / "wandb"
    trial = spec(wandb_dir, job_type="trial", experiments=["tuned"])
    job(study, tmp_path, study.shared, "--wandb", trial)
    [folder] = offline_runs(wandb_dir)
    assert folder.name.endswith(f"-{study.shared}-trial")
    records = wandb_records(folder / f"run-{study.shared}-trial.wandb")
    [run] = [r["run"] for r in records if r["type"] == "run"]
    assert (run["run_id"], run["run_group"], run["job_type"]) == (
        f"{study.shared}-trial",
        "tuned",
        "trial",
    )


def contents(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()}


def test_runs_in_one_pooled_worker_are_each_logged_completely(study, tmp_path, home):
    """The worker keeps wandb (and its service) from one run to the next; a finished run's
    folder stays as its job left it (log_wandb records its files)."""
    wandb_dir = tmp_path / "wandb"
    runs = unique_runs(study.rows)
    finished = {}
    for rid in runs:
        params = SimpleNamespace(
            run=canonical_json(runs[rid]),
            data=str(study.root / "data" / "spirals"),
            out=str(tmp_path / "runs" / rid),
            checkpoint=str(tmp_path / "checkpoints" / rid),
            evaluate=True,
            wandb=spec(wandb_dir),
        )
        workers.train(job_argv(params, 1, str(tmp_path / f"{rid}.log")), workers=1)
        [folder] = set(offline_runs(wandb_dir)) - set(finished)
        finished[folder] = contents(folder)
    assert len(finished) == len(runs)
    assert {folder: contents(folder) for folder in finished} == finished
    for rid in runs:
        record = json.loads(live_record_path(wandb_dir, rid).read_text())
        history = logged_history(
            wandb_records(wandb_dir / record["wandb_run_dir"] / f"run-{rid}.wandb")
        )
        assert len(history) == 1 + len(read_history(tmp_path / "runs" / rid / "history.csv"))

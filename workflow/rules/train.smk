# Train one run per job; the logic is in nnstudy.training.job. Its command line runs in a
# pooled worker process that imported the study once (nnstudy.training.workers): a fresh Python
# with NumPy costs about what a core-study run spends training. `train` (every run of the report:
# untuned experiments' runs and tuned searches' finals) evaluates the model on the test split
# in the same process (metrics.json); `trial` (tuning trials, workflow/rules/tune.smk) never
# reads it.
from nnstudy.training.runfolder import (
    METRICS,
    PREDICTIONS,
    RUN_CHECKPOINT,
    RUN_LOG,
    TRAIN_OUTPUTS,
    train_outputs,
)
from nnstudy.training.job import job_argv
from nnstudy.training.tracking import live_param
from nnstudy.training.workers import train


rule train:
    input:
        train=rules.prepare.output.train,
        val=rules.prepare.output.val,
        test=rules.prepare.output.test,
        card=rules.prepare.output.card,
    output:
        **train_outputs(RUN_DIR),
        metrics=f"{RUN_DIR}/{METRICS}",
    log:
        RUN_LOG,
    threads: 1
    params:
        run=run_json,
        data=lambda wildcards, input: os.path.dirname(input.card),
        out=lambda wildcards, output: os.path.dirname(output.model),
        # Outside the outputs: Snakemake does not delete it when a job is killed.
        checkpoint=RUN_CHECKPOINT,
        evaluate=True,
        # Each epoch to W&B as it trains (no rerun trigger: nnstudy.training.tracking.live_param).
        wandb=live_param(config["wandb"], ROWS, TUNED, "train"),
    run:
        train(job_argv(params, threads, log[0]), workers=workflow.cores)


# A tuning trial: the train job on the train and validation splits only, without --evaluate,
# in its own folders (the other settings are train's).
use rule train as trial with:
    input:
        train=rules.prepare.output.train,
        val=rules.prepare.output.val,
        card=rules.prepare.output.card,
    output:
        **train_outputs(TRIAL_DIR),
    log:
        "results/logs/trial/{dataset}/{run_id}.log",
    params:
        checkpoint="results/checkpoints/trials/{dataset}/{run_id}",
        evaluate=False,
        wandb=live_param(config["wandb"], ROWS, TUNED, "trial"),


# Each final's per-example test predictions, from its saved model (so runs trained before the
# file existed get it without being retrained).
rule predict:
    # In the training workers: a fresh process per run would cost more than the predictions.
    input:
        test=rules.prepare.output.test,
        card=rules.prepare.output.card,
        config=f"{RUN_DIR}/{TRAIN_OUTPUTS['config']}",
        model=f"{RUN_DIR}/{TRAIN_OUTPUTS['model']}",
        train=f"{RUN_DIR}/{TRAIN_OUTPUTS['train']}",
    output:
        f"{RUN_DIR}/{PREDICTIONS}",
    log:
        "results/logs/predict/{dataset}/{run_id}.log",
    threads: 1
    params:
        run=lambda wildcards, input: os.path.dirname(input.model),
        data=lambda wildcards, input: os.path.dirname(input.card),
    run:
        train(
            [
                "--run",
                params.run,
                "--data",
                params.data,
                "--out",
                output[0],
                "--log",
                log[0],
            ],
            workers=workflow.cores,
            job="predict",
        )

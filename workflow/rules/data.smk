# Fetch and prepare each dataset once, however many runs use it; nnstudy.datasets does the work.
from nnstudy.config.validation import data_settings
from nnstudy.datasets import DATASETS

DATA = data_settings(config)
RAW_DIR = DATA["raw_dir"]
PROCESSED_DIR = DATA["processed_dir"]
# A prepared dataset's folder (the prepare rule's outputs), as a pattern.
PREPARED_DIR = f"{PROCESSED_DIR}/{{dataset}}"
DOWNLOADED = [name for name, spec in DATASETS.items() if spec.downloaded]


# Cheap and network-bound: on a cluster it runs where the internet is (the submit host).
localrules:
    download,


rule download:
    output:
        source=f"{RAW_DIR}/{{dataset}}/source.json",
    log:
        "results/logs/download/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(DOWNLOADED),
    conda:
        "../envs/study.yaml"
    threads: 1
    params:
        local_dirs=DATA["local_dirs"],
    script:
        "../scripts/download.py"


rule prepare:
    input:
        # Downloaded sets start from the fetched files; built-in sets need no input.
        source=branch(
            lambda w: DATASETS[w.dataset].downloaded, then=rules.download.output.source
        ),
    output:
        train=f"{PREPARED_DIR}/train.npz",
        val=f"{PREPARED_DIR}/val.npz",
        test=f"{PREPARED_DIR}/test.npz",
        card=f"{PREPARED_DIR}/card.json",
    log:
        "results/logs/prepare/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(DATASETS),
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        # The generated sets may hold out more for validation (data.synthetic.val_fraction).
        val_fraction=lambda w: (
            DATA["val_fraction"]
            if DATASETS[w.dataset].downloaded
            or DATA["synthetic"]["val_fraction"] is None
            else DATA["synthetic"]["val_fraction"]
        ),
        test_fraction=DATA["test_fraction"],
        split_seed=DATA["split_seed"],
        synthetic=DATA["synthetic"],
    script:
        "../scripts/prepare.py"

# Fetch and prepare each dataset once, however many runs use it; nnstudy.datasets does the work.
from nnstudy.datasets import DATASETS

# The schema fills these defaults; .get keeps the rules usable on a partial config.
DATA = config.get("data") or {}
RAW_DIR = DATA.get("raw_dir", "data/raw")
PROCESSED_DIR = DATA.get("processed_dir", "data/processed")
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
        local_dirs=DATA.get("local_dirs", []),
    script:
        "../scripts/download.py"


rule prepare:
    input:
        # Downloaded sets start from the fetched files; built-in sets need no input.
        source=branch(
            lambda w: DATASETS[w.dataset].downloaded, then=rules.download.output.source
        ),
    output:
        train=f"{PROCESSED_DIR}/{{dataset}}/train.npz",
        val=f"{PROCESSED_DIR}/{{dataset}}/val.npz",
        test=f"{PROCESSED_DIR}/{{dataset}}/test.npz",
        card=f"{PROCESSED_DIR}/{{dataset}}/card.json",
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
        val_fraction=DATA.get("val_fraction", 0.1),
        test_fraction=DATA.get("test_fraction", 0.2),
        split_seed=DATA.get("split_seed", 0),
        synthetic=DATA.get("synthetic") or {},
    script:
        "../scripts/prepare.py"

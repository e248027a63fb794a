"""Rule report: see nnstudy.report.document."""

from nnstudy.jobs.frame import script_job
from nnstudy.report.contents import TABLES
from nnstudy.report.document import write_report

with script_job(snakemake):
    write_report(
        table_paths={name: snakemake.input[name] for name in TABLES},
        figures_dir=snakemake.params.figures_dir,
        data_root=snakemake.params.data_root,
        config=snakemake.params.study,
        selected=snakemake.params.selected,
        cfg_hash=snakemake.params.config_hash,
        html=snakemake.output.html,
        tex=snakemake.output.tex,
        fragments=snakemake.output.fragments,
    )

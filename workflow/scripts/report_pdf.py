"""Rule report_pdf: see nnstudy.report.pdf.build_pdf (it writes the TeX log to the rule's log)."""

from nnstudy.jobs.frame import script_job
from nnstudy.report.pdf import build_pdf

with script_job(snakemake, own_log=True, errors=(RuntimeError,)):  # a failed TeX build: one line
    build_pdf(snakemake.input.tex, snakemake.output.pdf, snakemake.log[0])

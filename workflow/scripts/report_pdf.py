"""Rule report_pdf: see nnstudy.pdf.build_pdf (it writes the TeX log to the rule's log)."""

from nnstudy.integrity import guarded
from nnstudy.pdf import build_pdf
from nnstudy.studylock import hold

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Inputs checked, outputs recorded (nnstudy.integrity).
with guarded(snakemake.input, snakemake.output):
    build_pdf(snakemake.input.tex, snakemake.output.pdf, snakemake.log[0])

"""The study report, by concern: :mod:`.findings` (claims generated from the statistics),
:mod:`.tables`, :mod:`.methods`, and :mod:`.document` (the context both templates render, and
the files written); the study's provenance is :func:`nnstudy.jobs.provenance.study_provenance`."""

"""nnstudy: the logic behind the Snakemake study, one sub-package per stage of the data flow.

``config`` (what to run: validation and the run table) -> ``datasets`` (fetch and prepare) ->
``training`` (one run: the job, its folder, evaluation, W&B) -> ``tuning`` (searches before
the finals) -> ``analysis`` (tables and statistics) -> ``report`` (figures, tables, findings,
the documents); ``jobs`` is what every job runs in (frame, locks, integrity, provenance).
``cli`` is ``nnstudy train``, ``console`` the Snakemake logger plugin, ``invoke`` runs
Snakemake from Python, ``docs`` generates the config reference.
"""

"""nnstudy.jobs.scheduling's process settings for Snakemake's main process."""

import gc

from nnstudy.jobs.scheduling import FULL_COLLECTION_THRESHOLD, relax_full_collections


def test_relax_full_collections_changes_only_the_oldest_generation():
    before = gc.get_threshold()
    try:
        assert relax_full_collections() == before
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_THRESHOLD)
    finally:
        gc.set_threshold(*before)

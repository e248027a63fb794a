"""One run: the train job, its run folder, test evaluation, the worker pool, W&B."""

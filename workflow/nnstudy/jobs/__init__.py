"""What every job runs in: the job frame, its environment, locks, integrity, provenance."""

"""What to run: the config's validation and the experiments expanded into runs."""

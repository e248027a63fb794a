# Config validation and the experiment -> run table expansion (workflow helper fills this in).

# Rules `download` and `prepare` (datasets helper fills this in).

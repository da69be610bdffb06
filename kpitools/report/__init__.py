"""The report pipeline: running the notebooks per period, publishing them atomically, the
HTML export, the index and the machine-readable results."""

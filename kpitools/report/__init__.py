"""The report pipeline: running the notebooks per period, publishing them atomically, the
HTML export, the index and the machine-readable results."""

import sys

# nbformat validates notebooks with jsonschema, whose format checker imports the optional
# ``rfc3987_syntax`` (installed with JupyterLab) when it is there: that import builds a
# grammar and takes over 2 s, in the runner and in every worker, for formats ("iri") that no
# notebook schema uses. Without it jsonschema skips those two formats and nothing else.
sys.modules.setdefault("rfc3987_syntax", None)

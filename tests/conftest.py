"""Shared fixtures: small hand-made tables and a small generated data directory."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
from hypothesis import settings

from kpitools.sample import generate, write
from kpitools.sources.validate import check_table

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent


# the test that runs Spark (a minute and a half on one worker) starts first, so that the
# other worker shares out the rest meanwhile rather than wait for it at the end
FIRST = "tests/test_spark.py::test_on_spark"


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.nodeid != FIRST)  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def write_csv(directory: Path, name: str, text: str) -> Path:
    """Write a CSV table from a dedented literal (first line is the header)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.csv"
    lines = [line.strip() for line in text.strip().splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


ACCOUNTS = """
account_id,signup_at,channel,segment
A1,2024-01-03T10:00:00Z,organic,smb
A2,2024-01-10T09:30:00+02:00,referral,enterprise
A3,2024-02-01,paid_social,
"""

SUBSCRIPTIONS = """
subscription_id,account_id,start_date,end_date,mrr,plan,billing_period
S1,A1,2024-01-05,2024-03-05,100,starter,month
S1b,A1,2024-03-05,,150,starter,month
S2,A2,2024-01-31,,1000,enterprise,year
S3,A3,2024-02-10,2024-02-29,50,starter,month
"""


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A data directory with accounts and subscriptions as CSV."""
    write_csv(tmp_path / "data", "accounts", ACCOUNTS)
    write_csv(tmp_path / "data", "subscriptions", SUBSCRIPTIONS)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def small_tables() -> dict:
    """The sample company at 5 % size over seven months (fast)."""
    return generate(seed=3, scale=0.05, start="2025-01-01", end="2025-07-20")


@pytest.fixture(scope="session")
def small_dir(small_tables, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small") / "data"
    write(small_tables, out)
    return out


SPANS = [
    ("A1", "A", "2024-01-10", "2024-02-15", 100),
    ("A2", "A", "2024-02-15", None, 180),
    ("B1", "B", "2023-12-01", "2024-02-20", 500),
    ("B2", "B", "2024-02-20", None, 300),
    ("C1", "C", "2023-11-05", "2024-02-10", 200),
    ("D1", "D", "2023-10-01", "2023-12-15", 50),
    ("D2", "D", "2024-02-03", None, 60),
    ("E1", "E", "2024-01-31", "2025-01-31", 100),
    ("F1", "F", "2024-02-29", None, 70),
    ("G1", "G", "2024-02-05", "2024-02-20", 40),
]


@pytest.fixture
def subs():
    """The hand-worked subscription set described in test_mrr."""
    frame = pd.DataFrame(SPANS, columns=["subscription_id", "account_id", "start_date", "end_date", "mrr"])
    return check_table(frame, "subscriptions")


def make_notebook(path: Path, *cells) -> Path:
    """A report notebook with a ``parameters`` cell and the given cells (cells, or code as
    strings), titled after its file name."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    body = [new_code_cell(c) if isinstance(c, str) else c for c in cells]
    nb = new_notebook(cells=[new_code_cell('period = "latest-month"\ndata_dir = "x"',
                                           metadata={"tags": ["parameters"]}), *body])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kpitools"] = {"title": path.stem.title()}
    nbformat.write(nb, str(path))
    return path

"""bench: a benchmark harness for learning from class-imbalanced, long-tailed data.

Importing the package is cheap: torch is only imported by the modules that train.
"""

__version__ = "0.1.0"


def load_results(*folders):
    """Every run under the results folders as one tidy pandas DataFrame (bench/report/export.py)."""
    from bench.report.export import load_results as load

    return load(*folders)

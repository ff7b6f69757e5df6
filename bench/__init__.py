"""bench: a benchmark harness for learning from class-imbalanced, long-tailed data.

Importing the package is cheap: torch is only imported by the modules that train.
"""

__version__ = "0.1.0"

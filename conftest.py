"""Shared pytest set-up: the notebooks run with their small budget under test.

nbval starts each notebook's kernel from this process, so the kernel
inherits QUINEBOOK_SMOKE and every notebook's ``smoke`` parameter (which
defaults to ``env_flag("QUINEBOOK_SMOKE")``) is true.
"""

import os

os.environ.setdefault("QUINEBOOK_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

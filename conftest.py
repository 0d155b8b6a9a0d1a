"""Shared pytest set-up: the notebooks run with their small budget under test.

nbval starts each notebook's kernel from this process, so the kernel
inherits QUINEBOOK_SMOKE and every notebook's ``smoke`` parameter (which
defaults to ``env_flag("QUINEBOOK_SMOKE")``) is true.
"""

import os

os.environ.setdefault("QUINEBOOK_SMOKE", "1")
# Under pytest-xdist (make test runs two workers on two cores) each worker, and every kernel or build it
# starts, computes on one thread: two torch processes with two threads each would oversubscribe the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

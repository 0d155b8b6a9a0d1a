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

# make test hands whole modules (and test classes) to its two workers in collection order
# (``--dist loadscope --no-loadscope-reorder``).  The longest ones go first, so that neither worker is left
# running one of them alone at the end; measured on a fresh clone, 2026-12-07: the built site and its
# browser tests (~10 min of one worker), chapter 5 at its workshop preset (~5 min), the fresh Binder-like
# install (~2.5 min), chapter 4 at its workshop preset (~1.5 min).  Everything else keeps its order.
LONGEST_FIRST = ("tests/test_site.py", "tests/test_workshop_preset.py::TestChapter5", "tests/test_reader_setup.py",
                 "tests/test_workshop_preset.py::TestChapter4")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for k, prefix in enumerate(LONGEST_FIRST):
            if item.nodeid.startswith(prefix):
                return k
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order inside a module, and of the others, is kept

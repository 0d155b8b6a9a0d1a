"""A git branch of student copies that Binder and Colab open directly.

    python -m tools.student_branch [--branch student] [--root ROOT]      (or: make student-branch)

It commits, on the branch ``student`` of the repository (created if missing, otherwise one commit more on
top of it), the tree of ``HEAD`` with every chapter notebook replaced by its student copy
(``tools.student.student_copy``: solutions stubbed, checks kept).  Everything else, ``quinelib``, ``binder/``
and the book's sources, is ``HEAD``'s, so Binder builds the same image from it.  It works on git objects
only: the working tree, the index and the current branch are not touched, so it can run from a checkout with
uncommitted work (which is not included: only what ``HEAD`` holds).

Then ``git push origin student`` publishes it, and it prints the launch links for that branch, read from
``repository.url`` in ``_config.yml`` (as the book's own buttons are): Binder opens JupyterLab on a chapter
of the branch, Colab opens the chapter's file on the branch (its first cell still clones the repository's
default branch, for ``quinelib`` only; the notebook it runs is the student copy).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from tools.publish import repository_url
from tools.student import student_copy

__all__ = ["launch_links", "make_branch", "main"]


def _git(root: Path, *args: str, env: dict | None = None, stdin: str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, input=stdin,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def make_branch(root: Path, branch: str = "student") -> tuple[str, list[tuple[str, int]]]:
    """Commit HEAD's tree with the chapters' student copies on ``branch``; return (commit, [(notebook,
    solutions replaced)])."""
    root = Path(root)
    head = _git(root, "rev-parse", "HEAD")
    paths = sorted(p for p in _git(root, "ls-tree", "-r", "--name-only", head, "notebooks").splitlines()
                   if Path(p).name[:2].isdigit() and p.endswith(".ipynb"))
    if not paths:
        raise RuntimeError("HEAD holds no chapter notebooks (notebooks/NN_*.ipynb)")
    replaced = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(root, "read-tree", head, env=env)
        for path in paths:
            nb = nbformat.reads(_git(root, "show", f"{head}:{path}"), as_version=4)
            copy, n = student_copy(nb)
            blob = _git(root, "hash-object", "-w", "--stdin", stdin=nbformat.writes(copy) + "\n")
            _git(root, "update-index", "--cacheinfo", f"100644,{blob},{path}", env=env)
            replaced.append((path, n))
        tree = _git(root, "write-tree", env=env)
    exists = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=root,
                            capture_output=True, text=True).returncode == 0
    parents = ["-p", _git(root, "rev-parse", f"refs/heads/{branch}")] if exists else []
    message = f"Student copies of {head[:12]}: solutions replaced by stubs and hints, checks kept (tools.student)"
    # a machine with no git identity (a fresh CI box) still gets a commit, signed by the tool
    known = subprocess.run(["git", "config", "user.email"], cwd=root, capture_output=True, text=True).stdout.strip()
    who = {} if known else {f"GIT_{role}_{part}": value for role in ("AUTHOR", "COMMITTER")
                            for part, value in (("NAME", "make student-branch"), ("EMAIL", "student-branch@localhost"))}
    commit = _git(root, "commit-tree", tree, *parents, "-m", message, env=who)
    _git(root, "update-ref", f"refs/heads/{branch}", commit)
    return commit, replaced


def launch_links(url: str, branch: str, notebook: str) -> dict[str, str]:
    """Binder and Colab links that open ``notebook`` (a path in the repository) on ``branch``."""
    owner_repo = url.rstrip("/").removesuffix(".git").split("github.com/")[-1]
    return {"binder": f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{notebook}",
            "colab": f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Commit the student copies on a branch that Binder and Colab open.")
    ap.add_argument("--branch", default="student")
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    args = ap.parse_args(argv)
    root = Path(args.root)
    commit, replaced = make_branch(root, args.branch)
    print(f"branch {args.branch} at {commit[:12]}:")
    for path, n in replaced:
        print(f"  {path}: {n} solution(s) replaced by a stub and a hint")
    url = repository_url(root)
    print(f"publish it with: git push origin {args.branch}\nthen participants open:")
    for path, _ in replaced:
        links = launch_links(url, args.branch, path)
        print(f"  {Path(path).stem}\n    Binder: {links['binder']}\n    Colab:  {links['colab']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

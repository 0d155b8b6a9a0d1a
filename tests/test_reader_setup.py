"""How readers get the notebooks running: Colab's first cell, Binder's files, and a fresh install from them."""

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from tools.publish import COLAB_MARK, colab_cell_source, repository_url, sync

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SETUP = ROOT / "notebooks" / "setup.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS + [SETUP], ids=lambda p: p.name)
def test_first_cell_installs_on_colab_and_points_at_the_repository(path):
    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert first.source.startswith(COLAB_MARK), "the first code cell must be the Colab set-up cell"
    assert first.source == colab_cell_source(repository_url(ROOT)), (
        "the Colab cell does not point at repository.url in _config.yml: run `make publish`")


def _run_colab_cell(monkeypatch, on_colab: bool):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(os.path, "isdir", lambda p: False)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    saved_path = list(sys.path)
    try:
        exec(colab_cell_source("https://github.com/someone/somebook"), {})
        return calls, list(sys.path)
    finally:
        sys.path[:] = saved_path


def test_colab_cell_does_nothing_elsewhere(monkeypatch):
    calls, path = _run_colab_cell(monkeypatch, on_colab=False)
    assert calls == [] and "/content/book" not in path


def test_colab_cell_clones_and_installs_on_colab(monkeypatch):
    calls, path = _run_colab_cell(monkeypatch, on_colab=True)
    assert calls[0] == ["git", "clone", "--depth", "1", "https://github.com/someone/somebook", "/content/book"]
    assert calls[1][1:4] == ["-m", "pip", "install"] and calls[1][-1] == "/content/book[notebooks]"
    assert path[0] == "/content/book"


def test_publish_rewrites_the_colab_cells(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b/\n")
    shutil.copy(NOTEBOOKS[0], tmp_path / "notebooks" / NOTEBOOKS[0].name)
    assert sync(tmp_path) == [tmp_path / "notebooks" / NOTEBOOKS[0].name]
    nb = nbformat.read(tmp_path / "notebooks" / NOTEBOOKS[0].name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == colab_cell_source("https://github.com/a/b")
    assert sum(c.source.startswith(COLAB_MARK) for c in code) == 1, "one Colab cell, replaced, not added twice"
    assert sync(tmp_path) == [], "a second run changes nothing"


def test_binder_files_say_python_311_cpu_torch_and_the_pinned_requirements():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    lines = [ln.strip() for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-r ../requirements.txt"]
    pinned = (ROOT / "requirements.txt").read_text()
    assert "\ntorch==2.13.0\n" in pinned and "\n-e .\n" in pinned


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="Binder's runtime is Python 3.11")
def test_a_fresh_environment_from_binders_files_alone_runs_a_notebook(tmp_path):
    """Mirror repo2docker: copy the repository's tracked files, create a fresh virtual environment, install
    binder/requirements.txt from the repository's root, then run chapter 1 (smoke) in that environment's kernel.

    This machine has no route to download.pytorch.org (PyTorch's CPU index); pip is told not to retry it, so
    it falls back to the registry, where torch==2.13.0 is the same CPU wheel.
    """
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    repo = tmp_path / "repo"
    for rel in files:
        if (ROOT / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, repo / rel)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "QUINEBOOK"))}
    env.update(PIP_RETRIES="0", PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    proc = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-compile", "-r", "binder/requirements.txt"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    check = subprocess.run([str(py), "-c", "import sys, torch, quinelib; print(sys.version_info[:2], torch.__version__, "
                            "quinelib.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "(3, 11)" in check.stdout and "2.13.0" in check.stdout and str(repo) in check.stdout
    out = tmp_path / "ch1.ipynb"
    run = subprocess.run([str(venv / "bin" / "papermill"), "notebooks/01_zero_quine.ipynb", str(out),
                          "-p", "smoke", "True", "-k", "python3", "--cwd", "notebooks"],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    texts = "".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"
                    for o in c.outputs)
    assert "chapter 1 ran in" in texts


def test_the_setup_notebook_checks_the_install_and_times_the_machine():
    """notebooks/setup.ipynb (run by nbval: pyproject.toml's testpaths) is stored clean, has the chapters'
    parameters cell, solves an exact quine and times the reference workload; the plan and the README send
    readers to it before chapter 1."""
    import tomllib

    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "notebooks/setup.ipynb" in testpaths, "make test no longer runs the set-up notebook"
    nb = nbformat.read(SETUP, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "stored with outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "\nseed = " in "\n" + params[0].source and "\nsmoke = " in "\n" + params[0].source
    source = "\n".join(c.source for c in code)
    assert "q.solve_exact(" in source and "reference_time(" in source and "requirements.txt" in source
    for doc in ("book/workshop.md", "README.md"):
        assert "notebooks/setup.ipynb" in (ROOT / doc).read_text(), f"{doc} does not point at the set-up check"

"""make student: copies of the notebooks with solutions replaced by a stub and a hint, and the checks kept."""

from pathlib import Path

import nbformat
import pytest

import quinelib as q
from quinelib.exercise import NotAnswered, WrongAnswer, answered, check, passed
from tools.student import main, student_copy

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_student_copies_hide_every_solution_and_keep_every_check(tmp_path, capsys):
    assert main([str(tmp_path / "student")]) == 0
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        orig = nbformat.read(path, as_version=4)
        copy = nbformat.read(tmp_path / "student" / path.name, as_version=4)
        nbformat.validate(copy)
        assert len(copy.cells) == len(orig.cells)
        solutions = [c for c in orig.cells if "solution" in c.metadata.get("tags", [])]
        stubs = [c for c in copy.cells if "exercise" in c.metadata.get("tags", [])]
        assert solutions and len(stubs) == len(solutions)
        assert not any("solution" in c.metadata.get("tags", []) for c in copy.cells)
        text = "\n".join(c.source for c in copy.cells)
        for sol, stub in zip(solutions, stubs):
            assert "Hint:" in stub.source and sol.metadata["hint"] in stub.source
            assert stub.source.rstrip().endswith(sol.metadata["stub"].rstrip())
            # the solution's own lines (not comments, and not lines such as ")" that any formatted cell has)
            body = [line for line in sol.source.splitlines()
                    if len(line.strip()) >= 12 and not line.lstrip().startswith("#")]
            assert not any(line in text for line in body[-3:]), "solution code leaked into the student copy"
        # everything that is not a solution is unchanged; check cells may raise in the copy
        for a, b in zip(orig.cells, copy.cells):
            if "solution" not in a.metadata.get("tags", []):
                assert a.source == b.source
            if "check" in a.metadata.get("tags", []):
                assert "raises-exception" in b.metadata["tags"]
    assert "solution(s) replaced" in capsys.readouterr().out


def _exercises():
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        for i, c in enumerate(cells):
            if "solution" in c.metadata.get("tags", []):
                yield pytest.param(c, cells[i + 1], id=f"{path.stem}:{c.source.splitlines()[0][12:50]}")


@pytest.mark.parametrize("solution, check_cell", list(_exercises()))
def test_a_stub_fails_its_check_with_a_readable_message(solution, check_cell):
    """The student copy's stub, run before the check cell, gives NotAnswered naming the answers to write."""
    copy, _ = student_copy(nbformat.v4.new_notebook(cells=[solution, check_cell]))
    # what the chapter's imports cell has defined by then (every import is there: test_notebooks checks it)
    namespace = {"q": q, "answered": answered, "check": check, "passed": passed}
    exec(compile(copy.cells[0].source, "<stub>", "exec"), namespace)
    with pytest.raises(NotAnswered, match=r"Not answered yet: `\w+`") as err:
        exec(compile(copy.cells[1].source, "<check>", "exec"), namespace)
    assert "Write your solution in the cell above" in str(err.value)


def test_exercise_helpers_say_what_is_wrong(capsys):
    answered(x=1.0, y={"a": 2})
    with pytest.raises(NotAnswered, match="`x`, `z` still hold"):
        answered(x=..., y=[1], z={"a": ...})
    with pytest.raises(ValueError, match="needs the answers"):
        answered()
    check(True, "fine")
    with pytest.raises(WrongAnswer, match="Not yet: the size should be 3."):
        check(2 == 3, "the size should be 3")
    with pytest.raises(ValueError, match="message"):
        check(True, "")
    passed("all good")
    assert "✓ Right: all good." in capsys.readouterr().out
    assert issubclass(NotAnswered, AssertionError) and issubclass(WrongAnswer, AssertionError)


def test_a_student_copy_runs_top_to_bottom_and_its_checks_say_not_answered():
    """Chapter 2's student copy, executed as a participant would before answering anything.

    nbclient (what Jupyter and papermill run on) goes on past a cell tagged ``raises-exception``; smoke mode
    comes from QUINEBOOK_SMOKE, which conftest.py sets and the kernel inherits.
    """
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "02_normalisation_fix.ipynb"
    copy, n = student_copy(nbformat.read(path, as_version=4))
    NotebookClient(copy, kernel_name="python3", timeout=600,
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    checks = [c for c in copy.cells if "check" in c.metadata.get("tags", [])]
    assert len(checks) == n >= 2
    for c in checks:
        errors = [o for o in c.outputs if o.output_type == "error"]
        assert len(errors) == 1 and errors[0].ename == "NotAnswered", c.outputs
        assert "Not answered yet" in errors[0].evalue
    # the cells after the exercises still ran, down to the last one (the budget report)
    last = [c for c in copy.cells if c.cell_type == "code"][-1]
    assert "reference units" in "".join(o.get("text", "") for o in last.outputs)


def test_the_student_branch_holds_heads_tree_with_the_copies_and_prints_its_links(tmp_path, capsys):
    """make student-branch: a branch Binder and Colab open, built from HEAD's objects alone (the working tree,
    the index and the current branch stay as they were); a second run adds a commit on top."""
    import subprocess

    from tools.student_branch import launch_links
    from tools.student_branch import main as branch_main

    def git(*args, cwd=tmp_path / "repo"):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()

    git("clone", "--quiet", str(ROOT), str(tmp_path / "repo"), cwd=tmp_path)
    repo = tmp_path / "repo"
    (repo / "README.md").write_text("uncommitted work")  # not on the branch, and left alone
    head, status = git("rev-parse", "HEAD"), git("status", "--porcelain")
    assert branch_main(["--root", str(repo)]) == 0
    out = capsys.readouterr().out
    assert git("rev-parse", "HEAD") == head and git("status", "--porcelain") == status
    assert (repo / "README.md").read_text() == "uncommitted work" and git("branch", "--show-current") != "student"
    changed = set(git("diff", "--name-only", head, "student").splitlines())
    assert changed == {str(p.relative_to(ROOT)) for p in NOTEBOOKS}, changed
    for path in NOTEBOOKS:
        rel = str(path.relative_to(ROOT))
        copy = nbformat.reads(git("show", f"student:{rel}"), as_version=4)
        nbformat.validate(copy)
        tags = [t for c in copy.cells for t in c.metadata.get("tags", [])]
        assert "solution" not in tags and tags.count("exercise") >= 2 and tags.count("check") >= 2
        assert copy == student_copy(nbformat.read(path, as_version=4))[0]
        links = launch_links("https://github.com/someone/book", "student", rel)
        assert links["binder"] == f"https://mybinder.org/v2/gh/someone/book/student?urlpath=lab/tree/{rel}"
        assert links["colab"] == f"https://colab.research.google.com/github/someone/book/blob/student/{rel}"
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert launch_links(url, "student", "notebooks/01_zero_quine.ipynb")["binder"] in out
    assert "git push origin student" in out
    first = git("rev-parse", "student")
    assert branch_main(["--root", str(repo)]) == 0
    assert git("rev-parse", "student^") == first, "a second run adds a commit on top of the branch"


def test_the_formula_sheets_are_what_the_chapters_give_and_keep_the_answers_back():
    """make handout: book/formulas.md is regenerated from the chapters (stale, the check fails), holds every
    chapter's question and its equations, and none of the pen-and-paper answers (equations in dropdowns)."""
    import re

    from tools import handout

    assert handout.main(["--check"]) == 0, "book/formulas.md is stale: run make handout"
    text = (ROOT / "book" / "formulas.md").read_text()
    for path in NOTEBOOKS:
        sheet = handout.chapter_sheet(path)
        assert len(sheet["equations"]) >= 3, f"{path.name}: {len(sheet['equations'])} equations"
        assert f"## Chapter {int(path.name[:2])}: {sheet['title']}" in text and sheet["question"][:40] in text
        markdown = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        answers = re.findall(r"^(`{3,}|:{3,})\{dropdown\}.*?^\1\s*$", markdown, re.M | re.S)
        assert answers, f"{path.name} has no dropdowns to test against"
        for block in re.findall(r"^(?:`{3,}|:{3,})\{dropdown\}(.*?)^(?:`{3,}|:{3,})\s*$", markdown, re.M | re.S):
            for tex in re.findall(r"\$\$(.+?)\$\$", block, re.S):
                if len(tex.strip()) > 30:
                    assert tex.strip() not in text, f"an answer's equation is on the sheet: {tex.strip()[:60]}"
    assert "{glue:" not in text, "a glued number cannot be shown outside its chapter"

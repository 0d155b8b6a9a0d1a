"""make student: copies of the notebooks with solutions replaced by a stub and a hint."""

from pathlib import Path

import nbformat

from quinelib.student import main

ROOT = Path(__file__).resolve().parents[1]


def test_student_copies_hide_every_solution(tmp_path, capsys):
    assert main([str(tmp_path / "student")]) == 0
    originals = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert originals
    for path in originals:
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
            assert "Hint:" in stub.source and stub.source.rstrip().endswith("...")
            assert sol.metadata["hint"] in stub.source
            # the solution's own lines (not comments, and not lines such as ")" that any formatted cell has)
            body = [line for line in sol.source.splitlines()
                    if len(line.strip()) >= 12 and not line.lstrip().startswith("#")]
            assert not any(line in text for line in body[-3:]), "solution code leaked into the student copy"
        # everything that is not a solution is unchanged
        for a, b in zip(orig.cells, copy.cells):
            if "solution" not in a.metadata.get("tags", []):
                assert a.source == b.source
    assert "solution(s) replaced" in capsys.readouterr().out

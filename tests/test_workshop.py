"""The workshop plan adds up: every block of book/workshop.md is computed from the chapters' time marks.

Each ``## `` section of a chapter (Summary and Further reading aside) opens with one mark,

    ⏱ *4 min; 12 min to here. Workshop: run live (3 min).*

the section's minutes for a reader alone, the running total (which ends at the chapter's "Estimated time"),
and the section's place on the workshop's core path (run live / show, with room minutes, or skip).  A chapter's
block in the plan is framing + core path + exercises + debrief, with the lengths the plan states.
"""

import re
from pathlib import Path

import nbformat
import pytest

from tools.handout import DEBRIEF, EXERCISE, FRAMING, core_path, time_marks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def sections(path):
    """(title, minutes, total to here, role, room minutes) of every marked section; a missing mark fails."""
    try:
        return time_marks(path)
    except ValueError as err:
        pytest.fail(str(err))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_time_marks_add_up_to_the_chapters_estimated_time(path):
    marks = sections(path)
    assert len(marks) >= 5
    total = 0
    for title, minutes, to_here, role, room in marks:
        total += minutes
        assert to_here == total, f"{path.name}, '{title}': {to_here} min to here, but the sections so far add to {total}"
        assert minutes >= 1 and (role == "skip") == (room == 0), title
        assert room <= minutes, f"'{title}': more minutes in the room than alone"
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    estimated = int(re.search(r"\*\*Estimated time:\*\* (\d+) minutes", text).group(1))
    assert total == estimated, f"{path.name}: the sections add to {total} min, the opening box says {estimated}"
    assert any(t == "Explore" and r == "run live" for t, _, _, r, _ in marks), "the exercises' section is on the path"


def _plan_tables():
    """The plan's tables: {heading: [(start, end, block, core, run live, show), ...]}."""
    text = (ROOT / "book" / "workshop.md").read_text()
    tables, heading = {}, None
    for line in text.splitlines():
        if line.startswith("### "):
            heading = line[4:].strip()
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"(\d):(\d\d) – (\d):(\d\d)", cells[0])
        if m and heading:
            assert len(cells) == 5, f"a plan row needs five columns: {line}"
            h0, m0, h1, m1 = map(int, m.groups())
            tables.setdefault(heading, []).append((60 * h0 + m0, 60 * h1 + m1, *cells[1:]))
    return tables


CHAPTER_OF = {"ch-zero-quine": "01", "ch-normalisation": "02", "ch-index-quine": "03", "ch-aux-quine": "04",
              "ch-weight-prediction": "05", "ch-exact-everywhere": "06"}


@pytest.mark.parametrize("plan, length, exercises", [("Three hours", 180, 1), ("Ninety minutes", 90, 2)])
def test_the_plan_is_built_from_the_chapters(plan, length, exercises):
    rows = _plan_tables()[plan]
    assert rows[0][0] == 0 and rows[-1][1] == length, f"the {plan.lower()} plan must run 0:00 to its end"
    assert all(a[1] == b[0] for a, b in zip(rows, rows[1:])), "the blocks must follow each other without a gap"
    chapters = 0
    for start, end, block, core, run_live, show in rows:
        label = re.search(r"\{ref\}`([\w-]+)`", block)
        if not label:
            continue
        chapters += 1
        path = next(p for p in NOTEBOOKS if p.name.startswith(CHAPTER_OF[label.group(1)]))
        path_ = core_path(path)
        minutes = sum(room for _, room in path_["run live"] + path_["show"])
        assert core == f"{minutes} min", f"{plan}, {path.name}: the plan says {core}, the chapter's marks {minutes} min"
        expected = FRAMING + minutes + exercises * EXERCISE + DEBRIEF
        assert end - start == expected, (
            f"{plan}, {path.name}: a {end - start}-minute block, but framing {FRAMING} + core path {minutes} + "
            f"{exercises} × {EXERCISE} exercise + debrief {DEBRIEF} = {expected}")
        if not run_live.startswith("as in the three-hour plan"):
            listed = "; ".join(f"{t} ({room})" for t, room in path_["run live"])
            assert run_live == listed, f"{plan}, {path.name}: the run-live column should read: {listed}"
            assert show == "; ".join(f"{t} ({room})" for t, room in path_["show"]), f"{plan}, {path.name}: show"
    assert chapters == (5 if plan == "Three hours" else 2)


def test_the_plan_states_the_rhythm_the_test_uses():
    text = " ".join((ROOT / "book" / "workshop.md").read_text().split())
    for phrase in (f"**{FRAMING} minutes of framing**", f"**{EXERCISE} minutes on one \"Your turn\" exercise**",
                   f"**a {DEBRIEF}-minute debrief**"):
        assert phrase in text, phrase


def test_the_instructors_guide_answers_every_exercise_and_pen_and_paper_question():
    """book/instructor.md has an answer key entry for each "Your turn" exercise and each pen-and-paper problem
    of every chapter (found by their titles), and is in the table of contents after the plan."""
    guide = " ".join((ROOT / "book" / "instructor.md").read_text().split())
    toc = (ROOT / "_toc.yml").read_text()
    assert toc.index("book/workshop") < toc.index("book/instructor"), "the guide follows the plan in the TOC"
    for path in NOTEBOOKS:
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        exercises = re.findall(r"```\{admonition\} Your turn: (.+)", text)
        problems = re.findall(r"^### Pen and paper: (.+)$", text, flags=re.M)
        assert len(exercises) >= 2 and problems, path.name
        for title in exercises + problems:
            assert title.strip().lower() in guide.lower(), f"{path.name}: the guide does not answer '{title}'"


def _quiz_questions(text):
    """{section label: [[feedback of each option], ...]} from book/quizzes.md."""
    out, label, question = {}, None, None
    lines = text.splitlines()
    for k, line in enumerate(lines):
        m = re.fullmatch(r"\((quiz-[\w-]+)\)=", line)
        if m:
            label = m.group(1)
            out[label] = []
        elif re.match(r"\*\*\d+\.\*\* ", line):
            question = []
            out[label].append(question)
        elif line.startswith(":::{dropdown} ("):
            assert lines[k + 1] == ":class-container: quinebook-quiz-option", f"an option without its class: {line}"
            question.append(lines[k + 2])
    return out


def test_every_quiz_question_has_one_right_answer_and_feedback_on_every_option():
    quizzes = _quiz_questions((ROOT / "book" / "quizzes.md").read_text())
    assert set(quizzes) == {f"quiz-ch{int(p.name[:2])}" for p in NOTEBOOKS} | {"quiz-exit"}
    for label, questions in quizzes.items():
        assert len(questions) >= (5 if label == "quiz-exit" else 3), f"{label}: too few questions"
        for n, feedback in enumerate(questions, 1):
            assert 3 <= len(feedback) <= 4, f"{label}, question {n}: {len(feedback)} options"
            assert sum(f.startswith("Right:") for f in feedback) == 1, f"{label}, question {n}: one right answer"
            assert all(f.startswith(("Right:", "Not quite:")) and len(f) > 40 for f in feedback), \
                f"{label}, question {n}: every option says whether it is right, and why"
    for path in NOTEBOOKS:  # each chapter's summary points at its questions
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        assert f"<quiz-ch{int(path.name[:2])}>`" in text, path.name


def test_the_workshop_states_learning_outcomes_and_ends_with_the_exit_quiz():
    text = (ROOT / "book" / "workshop.md").read_text()
    section = text.split("## What participants will be able to do", 1)[1].split("\n## ", 1)[0]
    outcomes = [ln for ln in section.splitlines() if ln.startswith("- ")]
    assert 5 <= len(outcomes) <= 8 and all(ln[2].isupper() for ln in outcomes), outcomes
    wrap_ups = [row for rows in _plan_tables().values() for row in rows if row[2] == "Wrap-up"]
    assert len(wrap_ups) == 2 and all("quiz-exit" in " ".join(map(str, row)) for row in wrap_ups)


def test_the_slides_give_each_block_the_plans_length_and_core_path():
    """book/slides.md (make handout) is current, and each chapter's slide states the three-hour plan's block."""
    from tools import handout

    assert handout.main(["--check"]) == 0, "book/slides.md is stale: run make handout"
    slides = (ROOT / "book" / "slides.md").read_text()
    for start, end, block, _core, run_live, _show in _plan_tables()["Three hours"]:
        label = re.search(r"\{ref\}`([\w-]+)`", block)
        if not label:
            continue
        number = int(CHAPTER_OF[label.group(1)])
        slide = re.search(rf"^## Chapter {number}: [^\n]*\((\d+) minutes\)$(.*?)(?=^## |\Z)", slides, re.M | re.S)
        assert slide and int(slide.group(1)) == end - start, f"chapter {number}: slide and plan disagree"
        assert f"**Run live** ({sum(m for _, m in core_path(NOTEBOOKS[number - 1])['run live'])} min): {run_live}." \
            in slide.group(2), f"chapter {number}: the slide's run-live list is not the plan's"
        assert "**Your turn**" in slide.group(2) and "**You will learn to**" in slide.group(2)
    assert "/student?urlpath=lab/tree/notebooks/01_zero_quine.ipynb" in slides

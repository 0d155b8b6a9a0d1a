"""The workshop handout and deck: a formula sheet per chapter and a slide per block, from the chapters themselves.

    python -m tools.handout [--check]        (or: make handout)

It writes two pages of the book.  ``book/formulas.md``, the formula sheets: for every chapter notebook, the
chapter's title and label, its question (the paragraph that opens with "**The question.**") and every display
equation of its prose, in order, each under the section it sits in and after the sentence that introduces it.
Equations inside dropdowns (the answers to the pen-and-paper exercises) are left out, so the sheet gives
nothing away.
Why a page of the book, and not a slide tool: it is built by the same Jupyter Book, with the same MathJax served
from the site's own ``_static/`` (so it works offline, in a room without Wi-Fi), the same notation and the same
cross-references; printed, each chapter's sheet starts on a new page (``quinebook_layout.css``), and projected
it is a page the instructor can scroll (the deck's slides fill the screen one at a time).  reveal.js (what
``nbconvert --to slides`` uses) loads from a CDN, and no LaTeX is installed here.  ``--check`` exits 1 when either page is not what the chapters give (the tests run it), so
neither can fall behind the chapters.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from quinelib.budgets import budget_seconds
from tools.student_branch import launch_links

__all__ = ["MARK", "FRAMING", "EXERCISE", "DEBRIEF", "time_marks", "core_path", "chapter_sheet", "render",
           "render_slides", "main"]

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "book" / "formulas.md"
SLIDES = ROOT / "book" / "slides.md"
#: A section's time mark: its minutes alone, the running total, and its place on the workshop's core path.
MARK = re.compile(r"⏱ \*(\d+) min; (\d+) min to here\. Workshop: (?:(run live|show) \((\d+) min\)|skip \(homework\))\.\*")
FRAMING, EXERCISE, DEBRIEF = 5, 10, 5  # minutes of a chapter block, as book/workshop.md states them
UNMARKED = ("Summary", "Further reading")
# roles whose text only exists on the chapter's own page (glue) are replaced by an ellipsis
GLUE = re.compile(r"\{glue:[a-z]+\}`[^`]+`")
FENCE = re.compile(r"^(`{3,}|:{3,})(\{[\w-]+\})?")


def time_marks(path: Path) -> list[tuple[str, int, int, str, int]]:
    """(title, minutes, total to here, role, room minutes) for every ``## `` section of a chapter (Summary and
    Further reading aside), from the time mark that opens it; role is "run live", "show" or "skip"."""
    out = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        for k, line in enumerate(lines):
            if not line.startswith("## ") or line[3:] in UNMARKED:
                continue
            following = [ln for ln in lines[k + 1:k + 4] if ln.strip()]
            m = MARK.fullmatch(following[0]) if following else None
            if m is None:
                raise ValueError(f"{path.name}: section '{line[3:]}' does not open with a time mark like "
                                 "'⏱ *4 min; 12 min to here. Workshop: run live (3 min).*'")
            out.append((line[3:], int(m.group(1)), int(m.group(2)), m.group(3) or "skip", int(m.group(4) or 0)))
    return out


def core_path(path: Path) -> dict[str, list[tuple[str, int]]]:
    """The chapter's workshop core path: {"run live": [(section, minutes)], "show": [...]}."""
    return {role: [(t, room) for t, _, _, r, room in time_marks(path) if r == role] for role in ("run live", "show")}


def _prose_lines(markdown: str):
    """(line, inside an answer dropdown) for each line of the chapter's markdown."""
    stack = []  # open fences: (fence characters, is a dropdown)
    for line in markdown.split("\n"):
        m = FENCE.match(line.strip())
        if m:
            fence, directive = m.group(1), m.group(2)
            if stack and fence == stack[-1][0] and not directive and line.strip() == fence:
                stack.pop()
                yield line, True
                continue
            if directive or line.strip() != fence:
                stack.append((fence, directive == "{dropdown}"))
                yield line, True
                continue
        yield line, any(drop for _, drop in stack)


def _intro(paragraph: list[str]) -> str:
    """The last sentence of the text before an equation (its introduction), or '' if nothing usable."""
    text = " ".join(s.strip() for s in paragraph).strip()
    if not text or text.startswith(("|", "```", ":::", "-", "*")) and not text.startswith("**"):
        return ""
    text = GLUE.sub("…", text)
    sentences = re.split(r"(?<=[.:;!?])\s+(?=[A-Z$*(`])", text)
    return sentences[-1].strip()


def chapter_sheet(path: Path) -> dict:
    """Title, label, question and the display equations (section, introduction, TeX) of one chapter."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    markdown = "\n\n".join(c.source for c in cells)
    label = re.search(r"^\((ch-[\w-]+)\)=", markdown, re.M).group(1)
    title = re.search(r"^# (.+)$", markdown, re.M).group(1).strip()
    question = re.search(r"^\*\*The question\.\*\*(.+?)(?:\n\s*\n)", markdown, re.M | re.S).group(1)
    question = GLUE.sub("…", " ".join(question.split()))
    section, paragraph, before, equations, maths = title, [], [], [], None
    intro, hidden_eq = "", False  # the open equation's introduction, and whether it is inside an answer
    for line, hidden in _prose_lines(markdown):
        stripped = line.strip()
        if maths is not None:
            if stripped.startswith("$$"):
                if not hidden_eq:
                    equations.append({"section": section, "intro": intro, "tex": "\n".join(maths).strip()})
                maths, paragraph, before = None, [], []
            else:
                maths.append(line)
            continue
        if stripped.startswith("$$"):
            rest = stripped[2:]
            if rest.endswith("$$") and len(rest) > 2:  # $$ ... $$ on one line
                if not hidden:
                    equations.append({"section": section, "intro": _intro(paragraph or before), "tex": rest[:-2].strip()})
                paragraph, before = [], []
                continue
            maths, intro, hidden_eq = ([rest] if rest else []), _intro(paragraph or before), hidden
            continue
        heading = re.match(r"^(#{2,3}) (.+)$", line)
        if heading and not hidden:
            section, paragraph, before = heading.group(2).strip(), [], []
        elif not stripped:
            before, paragraph = (paragraph or before), []
        elif not hidden:
            paragraph.append(line)
    return {"path": path, "label": label, "title": title, "question": question, "equations": equations,
            "markdown": markdown}


def render(paths) -> str:
    out = ["<!-- Generated by `make handout` (tools/handout.py) from the chapters: edit them, not this file. -->",
           "(formulas)=", "# Formula sheets", "",
           "One sheet per chapter for the workshop: the chapter's question and every equation of its text, in order,",
           "each under its section and after the sentence that introduces it (answers to the pen-and-paper",
           "exercises are left out). Printed, each chapter starts on a new page. The symbols are those of the",
           "{doc}`notation page <notation>`; an ellipsis stands for a number the chapter computes.", ""]
    for path in paths:
        sheet = chapter_sheet(path)
        number = int(path.name[:2])
        out += [f"## Chapter {number}: {sheet['title']}", "",
                f"**The question.** {sheet['question']} ({{ref}}`Read the chapter <{sheet['label']}>`.)", ""]
        last = None
        for k, eq in enumerate(sheet["equations"], start=1):
            if eq["section"] != last and eq["section"] != sheet["title"]:
                out += [f"*{eq['section']}*", ""]
            last = eq["section"]
            if eq["intro"]:
                out += [f"({number}.{k}) {eq['intro']}", ""]
            else:
                out += [f"({number}.{k})", ""]
            tex = re.sub(r"\\label\{[^}]*\}", "", eq["tex"])
            out += ["$$", tex, "$$", ""]
    return "\n".join(out).rstrip() + "\n"


def _learn_to(markdown: str) -> list[str]:
    """The chapter's "You will learn to" bullets, each joined onto one line."""
    block = markdown[markdown.index("**You will learn to**") + len("**You will learn to**"):]
    items = []
    for line in block.split("\n")[1:]:
        if line.startswith("- "):
            items.append(line[2:].strip())
        elif line.startswith("  ") and items and line.strip():
            items[-1] += " " + line.strip()
        else:
            break
    return [GLUE.sub("…", item) for item in items]


def render_slides(paths, url: str) -> str:
    """The workshop deck (book/slides.md): an opening slide, one per chapter block, and a closing one."""
    out = ["<!-- Generated by `make handout` (tools/handout.py) from the chapters: edit them, not this file. -->",
           "(slides)=", "# Workshop slides", "",
           "The deck for the {ref}`three-hour plan <workshop>`: one slide per block, each filling the screen (press",
           "F11 and scroll a screen at a time), generated from the chapters. A block is "
           f"{FRAMING} minutes of framing, the core path (computed from the chapter's time marks), {EXERCISE} minutes "
           f"on the first exercise and a {DEBRIEF}-minute debrief. The {{ref}}`formula sheets <formulas>` are the "
           "handout.", "",
           "## Welcome", "",
           "**Before we start:** open `notebooks/setup.ipynb` and run it (about a minute): it checks the install and "
           "says how long each chapter takes on your machine.", "",
           "**Your copies** of the notebooks, with the exercises to do (published with `make student-branch`):", ""]
    for path in paths:
        rel = f"notebooks/{path.name}"
        links = launch_links(url, "student", rel)
        out.append(f"- {path.stem}: [Binder]({links['binder']}) · [Colab]({links['colab']})")
    out.append("")
    for path in paths:
        number, sheet = int(path.name[:2]), chapter_sheet(path)
        markdown = sheet["markdown"]
        path_ = core_path(path)
        core = sum(m for role in path_.values() for _, m in role)
        block = FRAMING + core + EXERCISE + DEBRIEF
        exercise = re.search(r"^`{3,}\{admonition\} Your turn: (.+)$", markdown, re.M).group(1).strip()
        out += [f"## Chapter {number}: {sheet['title']} ({block} minutes)", "",
                f"**The question.** {sheet['question']}", "", "**You will learn to**", ""]
        out += [f"- {item}" for item in _learn_to(markdown)] + [""]
        out += [f"**First:** set `workshop = True` in the parameters cell and run all cells (at most "
                f"{budget_seconds(number, workshop=True):.0f} s on the reference machine; every check still holds).",
                ""]
        for role, label in (("run live", "Run live"), ("show", "Show")):
            if path_[role]:
                out.append(f"**{label}** ({sum(m for _, m in path_[role])} min): "
                           + "; ".join(f"{t} ({m})" for t, m in path_[role]) + ".")
                out.append("")
        out += [f"**Your turn** ({EXERCISE} min): {exercise}.", "",
                f"{{ref}}`The chapter <{sheet['label']}>` · {{ref}}`its formula sheet <formulas>`", ""]
    out += ["## Wrap-up", "",
            "The {ref}`exit quiz <quiz-exit>`, then the chapters' summaries and where to go next "
            "({doc}`related_work`).", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write book/formulas.md, the chapters' formula sheets.")
    ap.add_argument("--check", action="store_true", help="exit 1 if book/formulas.md is out of date")
    args = ap.parse_args(argv)
    from tools.publish import repository_url

    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    pages = {TARGET: render(paths), SLIDES: render_slides(paths, repository_url(ROOT))}
    stale = [p for p, text in pages.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"{p} is not what the chapters give: run make handout")
        if not stale:
            print("book/formulas.md and book/slides.md are up to date")
        return 1 if stale else 0
    for p, text in pages.items():
        p.write_text(text)
    equations, slides = pages[TARGET].count("\n$$\n") // 2, pages[SLIDES].count("\n## ")
    print(f"wrote {TARGET}: {equations} equations; {SLIDES}: {slides} slides")
    return 0


if __name__ == "__main__":
    sys.exit(main())

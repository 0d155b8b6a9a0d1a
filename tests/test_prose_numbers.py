"""No typed measurement in a chapter's prose: every number is glued, maths, code, or a cited source's.

The book's rule: a number that the prose quotes about a result comes from the executed notebook through
myst-nb's glue ({glue:text}`name:.3f`), never typed by hand, so the text cannot drift from what the code
computes. This test reads each chapter notebook's JSON (no kernel, no torch) and fails when a markdown
cell contains a *decimal* number outside the places where a number is legitimate:

- a MyST role, such as ``{glue:text}`…```, ``{glue:}`…```, ``{math}`…```, ``{cite}`…```, ``{eq}`…```;
- maths: ``$…$``, ``$$…$$``, a ``{math}`` block, ``\\begin{…}…\\end{…}``;
- code: a ``code span`` or a fenced code block (not a directive fence such as ``{admonition}``,
  whose content is prose and is checked);
- a link's target, an HTML comment;
- a version (``3.11.2``, ``Python 3.11``, ``v1.0``), a section, chapter, figure, table or equation
  number (``section 11.2``), an arXiv id (``1803.05859``) or a DOI prefix (``10.1162/…``);
- a source's own number, through the explicit allow-list below: per notebook, the exact string as it
  stands in the prose, with a comment naming the source. The prose must cite that source ({cite}`key`).

What counts as a number to check: anything with a decimal point (``0.957``, ``98.3 %``, ``3.5×``), an
exponent (``1e-4``, ``2.1E+3``, ``10⁻¹⁵``), and an integer that reads as a measurement: followed by a
percent sign or used as a factor (``93 %``, ``33×``, ``33x``). Plain integers are not checked: in this
book's prose they are sizes, counts and budgets that the text sets (``20 pairs``, ``P = 1020``), not
results; a measured integer should still be glued, and a reviewer catches the rest.

Figure alt text and captions count as prose too: in a code cell, a string passed as ``alt=…`` or
``caption=…``, stored under an ``"alt"`` key, or set in the cell's metadata (myst-nb's figure caption and
image alt) is checked the same way; the parts of an f-string that code fills in are produced by code and
pass.

Run ``pytest tests/test_prose_numbers.py -rA -s`` to see every offending (notebook, cell, number,
context); a chapter owner fixes each one by gluing it, moving a derivation into maths, or citing and
allow-listing a source's number.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: Sources' own numbers, allowed in the prose of one notebook (key: the notebook's stem). Each entry is
#: the exact string as it stands in a markdown cell (whitespace-insensitive); a number is allowed when it
#: lies inside an occurrence of one of its notebook's entries. Every entry must name its source in a
#: comment, and the prose around it must cite that source. An entry that no longer occurs in its notebook
#: fails ``test_allow_list_entries_still_occur`` so that the list cannot rot.
ALLOWED: dict[str, list[str]] = {
    "01_zero_quine": [],
    "02_normalisation_fix": [],
    "03_index_quine": [
        "**0.94 to 1.02**",  # Chang & Lipson (2018) as read by a reimplementation: L_SR/Σθ² at the paper's solutions
    ],
    "04_auxiliary_quine": [
        "90.41 %",  # Chang & Lipson (2018), second-hand: the auxiliary quine's MNIST test accuracy
        "96.33 %",  # Chang & Lipson (2018), second-hand: the same network trained only to classify
    ],
    "05_weight_prediction": [
        "98.3 %",  # the weight-prediction blog (weightprediction2025): its R² table, 15 unknowns, 1.33x
        "reached a loss of 0.017",  # the same blog: ResLinear's final forward loss after 50,000 steps
    ],
}

# ---------------------------------------------------------------------------------------------------------
# The detector
# ---------------------------------------------------------------------------------------------------------

#: Regions whose numbers are legitimate, removed (blanked, keeping offsets) in this order.
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.MULTILINE | re.DOTALL)
_PROSE_DIRECTIVES = {"admonition", "note", "tip", "warning", "important", "caution", "attention", "hint",
                     "seealso", "danger", "error", "topic", "sidebar", "epigraph", "figure", "glue:figure",
                     "exercise", "solution", "dropdown", "margin", "card", "tab-item", "tab-set"}
_STRIP = [
    re.compile(r"<!--.*?-->", re.DOTALL),  # HTML comments
    re.compile(r"\{[A-Za-z][\w:.+-]*\}`[^`]*`"),  # MyST roles: glue, math, cite, term, ref, eq, doc, …
    re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL),  # code spans
    re.compile(r"\$\$.*?\$\$", re.DOTALL),  # display maths
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL),  # LaTeX environments
    re.compile(r"(?<!\\)\$(?:[^$\\]|\\.)+?(?<!\\)\$", re.DOTALL),  # inline maths
    re.compile(r"(?<=\])\([^)\s]*\)"),  # link targets: [text](target)
    re.compile(r"https?://\S+"),  # bare URLs
]

_SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
#: A candidate number: digits with optional thousands separators and decimal parts, an optional exponent,
#: then an optional percent sign or factor sign. Not part of a word or of a longer dotted run.
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)*|\.\d+)"
    r"(?P<exp>[eE][-+−]?\d+|\s?[×x]\s?10[⁻⁺]?[" + _SUPERSCRIPT + r"]+|(?<=10)[⁻⁺]?[" + _SUPERSCRIPT + r"]+)?"
    r"(?P<unit>\s?%|\s?×(?!\s?\d)|x\b(?!\s?\d))?"
    r"(?![\w])"
)
_VERSION_BEFORE = re.compile(r"(?i)(?:\bversion|\bv|\bpython|\btorch|\bpytorch|\bnumpy|\bjupyter[ -]book|\bjb"
                             r"|\bsphinx|\bmyst[-_]nb|\bplotly|\brelease|\bnode|==|>=|<=|~=)\s*$")
_SECTION_BEFORE = re.compile(r"(?i)(?:\bsections?|\bsec\.|§|\bchapters?|\bch\.|\bfigures?|\bfig\.|\btables?"
                             r"|\beq\.|\bequations?|\bappendix|\btheorem|\blemma|\bdefinition|\balgorithm"
                             r"|\bpages?|\bpp?\.|\bexercise|\blisting)\s*$")


@dataclass(frozen=True)
class Finding:
    number: str  # as typed
    start: int  # offset in the markdown
    context: str  # the surrounding text, on one line


def _blank(text: str, start: int, end: int) -> str:
    """Replace text[start:end] by spaces (newlines kept), so that offsets still point into the original."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def strip_allowed_regions(markdown: str) -> str:
    """The markdown with every region whose numbers are legitimate blanked out (same length, same offsets)."""
    text = markdown
    for m in list(_FENCE.finditer(text)):
        info = m.group("info").strip()
        name = info[1:info.index("}")] if info.startswith("{") and "}" in info else None
        if name is not None and name in _PROSE_DIRECTIVES:
            # a prose directive: blank its fence lines and its :option: lines, keep its content
            body_start = m.start("body")
            text = _blank(text, m.start(), body_start)
            for opt in re.finditer(r"^:[\w-]+:.*$", m.group("body"), re.MULTILINE):
                text = _blank(text, body_start + opt.start(), body_start + opt.end())
            text = _blank(text, m.end("body"), m.end())
        else:  # code, maths ({math}), raw output: nothing in it is prose
            text = _blank(text, m.start(), m.end())
    for pattern in _STRIP:
        for m in list(pattern.finditer(text)):
            text = _blank(text, m.start(), m.end())
    return text


def _is_checked(m: re.Match) -> bool:
    """Whether a candidate number is one the rule is about (a decimal, an exponent, a percent, a factor)."""
    num, exp, unit = m.group("num"), m.group("exp"), m.group("unit")
    return "." in num or bool(exp) or bool(unit)


def _is_exempt(text: str, m: re.Match) -> bool:
    """Versions, section numbers, arXiv ids and DOIs are not measurements."""
    num, before = m.group("num"), text[max(0, m.start() - 40):m.start()]
    if num.count(".") >= 2 or _VERSION_BEFORE.search(before):
        return True  # 1.0.4, Python 3.11, v2.1
    if _SECTION_BEFORE.search(before):
        return True  # section 11.2, figure 3.1
    if re.fullmatch(r"\d{4}\.\d{4,5}", num):
        return True  # an arXiv id (four digits, a dot, four or five digits), with or without "arXiv"
    if re.fullmatch(r"10\.\d{4,}", num) and text[m.end("num"):m.end("num") + 1] == "/":
        return True  # a DOI prefix
    return False


def _allowed_spans(markdown: str, allowed: list[str]) -> list[tuple[int, int]]:
    spans = []
    for entry in allowed:
        pattern = r"\s+".join(re.escape(part) for part in entry.split())
        spans += [(m.start(), m.end()) for m in re.finditer(pattern, markdown)]
    return spans


def find_typed_numbers(markdown: str, allowed: list[str] = ()) -> list[Finding]:
    """Every decimal, exponent, percent or factor typed in the prose of one markdown cell.

    Numbers inside roles (glue, math, cite, …), maths, code, link targets, versions, section numbers and
    arXiv ids are not reported; nor is a number inside an occurrence of an ``allowed`` string.
    """
    text = strip_allowed_regions(markdown)
    spans = _allowed_spans(markdown, list(allowed))
    findings = []
    for m in _NUMBER.finditer(text):
        if not _is_checked(m) or _is_exempt(text, m):
            continue
        if any(a <= m.start() and m.end("num") <= b for a, b in spans):
            continue
        lo, hi = max(0, m.start() - 50), min(len(markdown), m.end() + 50)
        context = " ".join(markdown[lo:hi].split())
        findings.append(Finding(m.group(0).strip(), m.start(), context))
    return findings


_TEXT_ARGUMENTS = {"alt", "caption"}


def _literal_text(node: ast.AST) -> str | None:
    """The typed text of a string expression: a constant, an f-string's literal parts, or their concatenation
    (implicit or with +). Values an f-string formats are produced by code and left out (a space each)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else " " for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_text(node.left), _literal_text(node.right)
        return None if left is None or right is None else left + right
    return None


def figure_texts(code: str) -> list[str]:
    """The alt texts and captions typed in a code cell: ``alt=``/``caption=`` arguments and ``"alt"`` keys."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # cell magics and the like: nothing to read
        return []
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in _TEXT_ARGUMENTS:
            texts.append(_literal_text(node.value))
        elif isinstance(node, ast.Dict):
            texts += [_literal_text(v) for k, v in zip(node.keys, node.values)
                      if isinstance(k, ast.Constant) and k.value in _TEXT_ARGUMENTS]
    return [t for t in texts if t]


def metadata_texts(metadata) -> list[str]:
    """The alt texts and captions in a cell's metadata (myst-nb's ``mystnb: {figure: {caption}, image: {alt}}``)."""
    if isinstance(metadata, dict):
        return [t for k, v in metadata.items()
                for t in ([v] if k in _TEXT_ARGUMENTS and isinstance(v, str) else metadata_texts(v))]
    if isinstance(metadata, list):
        return [t for v in metadata for t in metadata_texts(v)]
    return []


def chapter_findings(path: Path) -> list[tuple[int, Finding]]:
    """(cell index, finding) for every typed number in the markdown cells, and in the figure alt texts and
    captions of the code cells, of one notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    allowed = ALLOWED.get(path.stem, [])
    out = []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            out += [(i, f) for f in find_typed_numbers(source, allowed)]
        elif cell["cell_type"] == "code":
            for text in figure_texts(source) + metadata_texts(cell.get("metadata", {})):
                out += [(i, Finding(f.number, f.start, "alt text or caption: " + f.context))
                        for f in find_typed_numbers(text, allowed)]
    return out


def markdown_of(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                       for c in nb["cells"] if c["cell_type"] == "markdown")


# ---------------------------------------------------------------------------------------------------------
# The detector, on hand-made strings
# ---------------------------------------------------------------------------------------------------------

def numbers(markdown: str, allowed: list[str] = ()) -> list[str]:
    return [f.number for f in find_typed_numbers(markdown, allowed)]


def test_a_typed_measurement_fails():
    assert numbers("Attention pooling reached 0.957 in 200 s.") == ["0.957"]
    assert numbers("a relative residual of 1e-4, then 2.1E-15") == ["1e-4", "2.1E-15"]
    assert numbers("about 98.3 % of the variance, 3.5× faster, 33× sooner, 12x less, 93 % accurate") == [
        "98.3 %", "3.5×", "33×", "12x", "93 %"]
    assert numbers("residuals near 10⁻¹⁵ and ±0.5") == ["10⁻¹⁵", "0.5"]


def test_a_glued_number_passes():
    assert numbers("R² of {glue:text}`ch5_at_r2:.3f` after {glue:text}`ch5_at_time:.0f` s") == []
    assert numbers("the bound {glue:}`ch3_bound` and {glue:math}`ch2_x:.2e`") == []


def test_maths_and_code_pass():
    assert numbers(r"at the seed's $\alpha = 0.25$ the radius is small") == []
    assert numbers("$$\n\\rho = 0.1 \\Rightarrow \\rho^2 = 0.01\n$$ (eq-x)\n") == []
    assert numbers(r"{math}`\epsilon = 10^{-5}` and `lr=1e-3`, ``x = 2.5``") == []
    assert numbers("```python\nlr = 1e-3\n```\n") == []
    assert numbers("```{math}\n\\eta = 0.5\n```\n") == []


def test_a_directive_with_prose_is_still_checked():
    text = "```{admonition} Your turn\n:class: tip\nTry $h = 10^{-2}$, then a step of 0.5.\n```\n"
    assert numbers(text) == ["0.5"]


def test_an_allow_listed_source_number_passes():
    text = "The seed's mean-pooling model reached 98.3 % {cite}`weightprediction2025`; ours 0.991."
    assert numbers(text) == ["98.3 %", "0.991"]
    assert numbers(text, allowed=["98.3 %"]) == ["0.991"]
    assert numbers("ours 98.3 % too", allowed=["reached 98.3 %"]) == ["98.3 %"], "the entry is exact"


def test_versions_sections_arxiv_and_links_pass():
    assert numbers("Jupyter Book 1.0.4.post1 on Python 3.11 and torch 2.13.0, version 2.1") == []
    assert numbers("Nocedal and Wright, section 11.2, figure 3.1, and chapters 10.4") == []
    assert numbers("Chang & Lipson, arXiv 1803.05859 (also arXiv:2202.05780), doi 10.1162/artl_a_00359") == []
    assert numbers("[the post](https://example.org/v1.5/x?a=0.25) and https://x.org/2.5") == []


def test_integers_are_not_checked():
    assert numbers("20 pairs give 1,797 images and P = 20,100 weights in 4 steps") == []
    assert numbers("a 16 × 16 matrix, 8 x 8 pixels") == []


def test_alt_texts_and_captions_are_read_from_code():
    code = ('fig.update_layout(meta={"alt": "weights of size up to about 0.2"})\n'
            'q.plots.slider_figure(frames, alt="R² of " f"{r2:.3f} for 60 networks", caption=f"took {t:.1f} s")\n'
            'print("not a figure: 0.5")\n')
    texts = sorted(figure_texts(code))
    assert texts == ["R² of   for 60 networks", "took   s", "weights of size up to about 0.2"]
    assert [numbers(t) for t in texts] == [[], [], ["0.2"]]
    assert figure_texts("%%time\nx = 1") == []
    meta = {"tags": ["x"], "mystnb": {"figure": {"caption": "Matrices of size 0.5", "name": "fig-a"},
                                      "image": {"alt": "Heatmaps up to 0.2"}}}
    assert sorted(metadata_texts(meta)) == ["Heatmaps up to 0.2", "Matrices of size 0.5"]


def test_the_context_points_at_the_original_text():
    (f,) = find_typed_numbers("$x$ " * 30 + "ended at 0.957 after training")
    assert f.number == "0.957" and "ended at 0.957 after training" in f.context


# ---------------------------------------------------------------------------------------------------------
# The chapters
# ---------------------------------------------------------------------------------------------------------

def test_there_are_chapters():
    assert len(CHAPTERS) >= 5, CHAPTERS


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_prose_has_no_typed_numbers(path):
    found = chapter_findings(path)
    report = "\n".join(f"  {path.name} cell {i}: {f.number!r} in: …{f.context}…" for i, f in found)
    if found:
        print(f"\n{len(found)} typed number(s) in {path.name}:\n{report}")
    assert not found, (f"{len(found)} number(s) typed in the prose of {path.name}; glue them, put a derivation in "
                       f"maths, or cite the source and allow-list the exact string in tests/test_prose_numbers.py:\n"
                       + report)


@pytest.mark.parametrize("stem", sorted(ALLOWED), ids=str)
def test_allow_list_entries_still_occur(stem):
    paths = [p for p in CHAPTERS if p.stem == stem]
    assert paths, f"ALLOWED names a notebook that does not exist: {stem}"
    text = " ".join(markdown_of(paths[0]).split())
    stale = [e for e in ALLOWED[stem] if " ".join(e.split()) not in text]
    assert not stale, f"allow-list entries of {stem} no longer in its prose (remove them): {stale}"

"""Sphinx extension of the book: author-year citations and bibliography labels.

sphinxcontrib-bibtex formats a bibliography with a pybtex style whose label
style, by default ``alpha``, makes labels like ``[ISCS22]`` that look nothing
like an author-year citation.  This module registers

* a pybtex label style, ``quinebook_author_year``: "Surname, 2018",
  "Chang and Lipson, 2018", "Irie et al., 2022", "Vishvam, n.d.-a" (undated),
  with a, b, ... appended when two entries would otherwise get the same label;
* a pybtex sorting style, ``quinebook_author_year``: author, year, then the
  entry's ``sortkey`` field if it has one (so that part 1 of a series comes
  before part 2), then title;
* a pybtex formatting style, ``quinebook``: ``unsrt`` with the two styles above
  and titles printed as written (``unsrt`` lower-cases them, which turns
  "ReLU" into "Relu");
* a sphinxcontrib-bibtex referencing style, ``quinebook_label``: a citation
  shows the entry's label, the very text the bibliography shows, with "; "
  between several keys;
* a small stylesheet (``static/quinebook_bib.css``) that puts each entry's label on its own line above
  the entry, since author-year labels are too long for the theme's narrow label column.

``_config.yml`` selects them with ``bibtex_default_style: quinebook`` and
``bibtex_reference_style: quinebook_label``.  A citation and its bibliography
entry then read the same, e.g. [Chang and Lipson, 2018].
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import pybtex.plugin
import sphinxcontrib.bibtex.plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle as AuthorYearTitleSorting
from pybtex.style.template import field as field_template
from pybtex.style.template import sentence
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.label import LabelReferenceStyle


def _plain(latex: str) -> str:
    """A name or title as plain text: braces and simple LaTeX markup removed."""
    try:
        return Text.from_latex(latex).render_as("text")
    except Exception:  # pragma: no cover - fall back to stripping braces
        return re.sub(r"[{}]", "", latex)


def _surname(person) -> str:
    return _plain(" ".join(person.prelast_names + person.last_names))


def author_year_base(entry) -> str:
    """"Surname, year" without the a/b suffix; "n.d." when the entry has no year."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    if not persons:
        who = _plain(entry.fields.get("title", entry.key))
    elif len(persons) == 1:
        who = _surname(persons[0])
    elif len(persons) == 2:
        who = f"{_surname(persons[0])} and {_surname(persons[1])}"
    else:
        who = f"{_surname(persons[0])} et al."
    year = entry.fields.get("year", "").strip() or "n.d."
    return f"{who}, {year}"


def author_year_labels(sorted_entries) -> list[str]:
    """Labels for entries in their sorted order, with a, b, ... for repeats."""
    entries = list(sorted_entries)
    bases = [author_year_base(entry) for entry in entries]
    counts: dict[str, int] = {}
    for base in bases:
        counts[base] = counts.get(base, 0) + 1
    seen: dict[str, int] = {}
    labels = []
    for base in bases:
        if counts[base] == 1:
            labels.append(base)
            continue
        suffix = string.ascii_lowercase[seen.get(base, 0)]
        seen[base] = seen.get(base, 0) + 1
        labels.append(f"{base}-{suffix}" if base.endswith("n.d.") else f"{base}{suffix}")
    return labels


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        yield from author_year_labels(sorted_entries)


class AuthorYearSortingStyle(AuthorYearTitleSorting):
    def sorting_key(self, entry):
        author_key, year, title = super().sorting_key(entry)
        return (author_key, year, entry.fields.get("sortkey", ""), title)


class QuinebookStyle(UnsrtStyle):
    default_label_style = "quinebook_author_year"
    default_sorting_style = "quinebook_author_year"

    def format_title(self, e, which_field, as_sentence=True):
        title = field_template(which_field)
        return sentence[title] if as_sentence else title


def _semicolon_brackets() -> BracketStyle:
    return BracketStyle(sep="; ")


@dataclass
class QuinebookLabelReferenceStyle(LabelReferenceStyle):
    bracket_parenthetical: BracketStyle = field(default_factory=_semicolon_brackets)
    bracket_textual: BracketStyle = field(default_factory=_semicolon_brackets)


def register() -> None:
    pybtex.plugin.register_plugin("pybtex.style.labels", "quinebook_author_year", AuthorYearLabelStyle, force=True)
    pybtex.plugin.register_plugin("pybtex.style.sorting", "quinebook_author_year", AuthorYearSortingStyle, force=True)
    pybtex.plugin.register_plugin("pybtex.style.formatting", "quinebook", QuinebookStyle, force=True)
    sphinxcontrib.bibtex.plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing", "quinebook_label", QuinebookLabelReferenceStyle, force=True)


STATIC = Path(__file__).parent / "static"


def _add_static_path(app, config):
    if str(STATIC) not in map(str, config.html_static_path):  # quinebook_assets adds the same folder
        config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    register()
    app.connect("config-inited", _add_static_path)
    app.add_css_file("quinebook_bib.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

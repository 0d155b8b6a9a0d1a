"""The bibliography: every citation resolves, and author-year labels are unique and readable."""

import re
import sys
from pathlib import Path

import pybtex.database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from quinebook_bibstyle import author_year_labels  # noqa: E402


def entries():
    db = pybtex.database.parse_file(str(ROOT / "book" / "references.bib"))
    return db.entries


def test_every_cited_key_exists():
    keys = set(entries())
    sources = list((ROOT / "notebooks").glob("*.ipynb")) + list((ROOT / "book").glob("*.md"))
    cited = {k.strip() for p in sources for group in re.findall(r"\{cite[:a-z]*\}`([^`]+)`", p.read_text())
             for k in group.split(",")}
    assert cited, "no citations found"
    assert cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"


def test_labels_are_unique_and_author_year():
    db = entries()
    labels = author_year_labels(db.values())
    assert len(set(labels)) == len(labels), "two entries share a label"
    for label in labels:
        assert re.fullmatch(r".+, (\d{4}[a-z]?|n\.d\.(-[a-z])?)", label), f"not an author-year label: {label!r}"
    assert not any("{" in label or "\\" in label for label in labels), "LaTeX left in a label"


def test_undated_repeats_get_distinct_suffixes():
    db = pybtex.database.parse_string("""
@misc{a, author = {Vishvam}, title = {Part 1}}
@misc{b, author = {Vishvam}, title = {Part 2}}
@misc{c, author = {Chang, Oscar and Lipson, Hod}, title = {Q}, year = {2018}}
""", "bibtex")
    assert author_year_labels(db.entries.values()) == ["Vishvam, n.d.-a", "Vishvam, n.d.-b", "Chang and Lipson, 2018"]

"""Exercises that check themselves: what the chapters' check cells call.

Each "Your turn" in a chapter has three cells: the exercise's stub (in the
student copy; the book's notebooks hold the solution, tagged ``solution``),
then a *check cell* (tagged ``check``) that stays in every copy and tells the
participant whether the answer is right.  A check cell names the answers it
reads, then states what a right answer satisfies::

    answered(alpha_crit=alpha_crit)
    check(abs(alpha_crit - alpha / rho0) <= 1e-6 * alpha / rho0,
          "alpha* is where |lambda|max(J(0)) = alpha * (|lambda|max at alpha = 1) reaches 1")
    passed("alpha* agrees with the spectrum of J(0)")

An answer left as ``...`` (the stub's placeholder) raises ``NotAnswered``; a
wrong one raises ``WrongAnswer``.  Both are ``AssertionError``s, so the
notebook tests fail on them, and both carry a message written for the
participant, not a traceback into the code that computed it.
"""

from __future__ import annotations

__all__ = ["NotAnswered", "WrongAnswer", "answered", "check", "passed"]


class NotAnswered(AssertionError):
    """An exercise's answer is still the stub's placeholder ``...``."""


class WrongAnswer(AssertionError):
    """An exercise's answer does not satisfy its check."""


def _has_placeholder(value, depth: int = 0) -> bool:
    if value is Ellipsis:
        return True
    if depth < 3 and isinstance(value, dict):
        return any(_has_placeholder(v, depth + 1) for v in value.values())
    if depth < 3 and isinstance(value, (list, tuple)):
        return any(_has_placeholder(v, depth + 1) for v in value)
    return False


def answered(**answers) -> None:
    """Raise ``NotAnswered`` naming every answer that is (or holds) the placeholder ``...``."""
    if not answers:
        raise ValueError("answered() needs the answers to look at, as name=value")
    missing = [name for name, value in answers.items() if _has_placeholder(value)]
    if missing:
        names = ", ".join(f"`{n}`" for n in missing)
        raise NotAnswered(f"Not answered yet: {names} still {'holds' if len(missing) == 1 else 'hold'} `...`. "
                          "Write your solution in the cell above, run it, then run this check again.")


def check(ok, message: str) -> None:
    """Raise ``WrongAnswer`` with ``message`` (what a right answer satisfies) unless ``ok`` is true."""
    if not isinstance(message, str) or not message:
        raise ValueError("check() needs a message saying what a right answer satisfies")
    if not bool(ok):
        raise WrongAnswer(f"Not yet: {message}.")


def passed(message: str) -> None:
    """Print the line a participant sees when every check of an exercise holds."""
    print(f"✓ Right: {message}.")

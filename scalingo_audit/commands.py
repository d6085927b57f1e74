"""The one place that builds Scalingo CLI commands: findings, review sheets, report tables
and ``review --apply-decisions`` all get theirs from here.

A command is an argv, a tuple of words such as::

    ("scalingo", "--region", "osc-secnum-fr1", "--app", "shop-api",
     "collaborators-update", "--limited=true", "dev@agency.example")

always with ``--region`` (an app name is unique only within a region, and the CLI's default
region may not be the app's) and ``--app``. :func:`render` turns it into one line to paste,
with :func:`shlex.join`: spaces, quotes, ``$()`` and backticks in a name stay literal text.

Quoting cannot make every value safe. A word that begins with ``-`` is still read as an
option by the CLI once the shell has removed the quotes (an email ``--app=other@x.example``
would act on another app), and a control character (a newline, an escape sequence, a
right-to-left override) can make a pasted line run, or look, other than it reads. For such a
value :func:`argv` gives ``None``: no command at all, and the remediation says the change
needs manual action (:data:`MANUAL`), never a line to paste.
"""

from __future__ import annotations

import functools
import shlex
import unicodedata
from collections.abc import Sequence
from typing import Any

Argv = tuple[str, ...]

ACTIONS: dict[str, tuple[str, ...]] = {
    "downgrade": ("collaborators-update", "--limited=true"),
    "revoke": ("collaborators-remove",),
}
"""The CLI words of each action; the person's email follows them."""

MANUAL = (
    "needs manual action on the app's Collaborators page in the dashboard (no command is "
    "given: a name here begins with '-' or holds a control character, unsafe in a shell)"
)
"""What a remediation says instead of a command when :func:`argv` gives ``None``."""

_CONTROL = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unsafe(value: Any) -> bool:
    """Whether ``value`` cannot be a word of a pasteable command: missing or empty, not a
    string, beginning with ``-``, or holding a control character (Unicode categories Cc,
    Cf, Cs, Co, Cn, Zl, Zp: newlines, escapes, bidirectional overrides, zero-width ones)."""
    if not isinstance(value, str) or not value or value.startswith("-"):
        return True
    if value.isprintable():  # fast path: no character of the categories above
        return False
    return any(unicodedata.category(c) in _CONTROL for c in value)


def argv(action: str, region: Any, app: Any, email: Any) -> Argv | None:
    """The command carrying out ``action`` (a key of :data:`ACTIONS`) for ``email`` on
    ``app`` in ``region``; ``None`` when any of the three is :func:`unsafe`."""
    words = ACTIONS[action]
    if unsafe(region) or unsafe(app) or unsafe(email):
        return None
    return ("scalingo", "--region", region, "--app", app, *words, email)


def action_of(command: Sequence[str] | None) -> str | None:
    """The action of a command built by :func:`argv` (``None`` for none)."""
    if command is None:
        return None
    for action, words in ACTIONS.items():
        if tuple(command[5:-1]) == words:
            return action
    return None


def render(command: Sequence[str] | None) -> str | None:
    """The command as one line to paste (what :func:`shlex.join` gives: each word through
    :func:`shlex.quote`, once per distinct word, as the same region, app and email recur
    across thousands of findings); ``None`` for no command."""
    return None if command is None else " ".join(map(_quote, command))


_quote = functools.lru_cache(maxsize=65536)(shlex.quote)


def line(action: str, region: Any, app: Any, email: Any) -> str | None:
    """:func:`render` of :func:`argv`."""
    return render(argv(action, region, app, email))


def phrase(command: Sequence[str] | None) -> str:
    """The command for a remediation's text: the rendered line, or :data:`MANUAL`."""
    rendered = render(command)
    return MANUAL if rendered is None else rendered


def example(command: Sequence[str] | None) -> str:
    """An example command for a remediation's text (``e.g.`` and the rendered line), or
    :data:`MANUAL`. The text ends with it, so a report can show the line apart."""
    rendered = render(command)
    return MANUAL if rendered is None else "e.g. " + rendered

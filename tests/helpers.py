"""Small helpers shared by tests."""

from __future__ import annotations

from flask_babel import force_locale, gettext


def vietnamese(app, msgid: str, **params) -> str:
    """The Vietnamese text a user sees for `msgid`; fails if it is not translated."""
    with app.test_request_context(), force_locale("vi"):
        text = gettext(msgid, **params)
    assert text != msgid % params if params else text != msgid, (
        f"not translated to Vietnamese: {msgid!r}"
    )
    return text

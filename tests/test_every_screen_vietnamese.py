"""Every screen in Vietnamese (issue 13, item 3): each FAB view registered in the app —
every ModelView's list, show, add and edit page for a real row, every custom page that
answers GET with HTML — is rendered for an Admin and for a Clerk, and what a user can
read on it (text, page titles, button labels, option labels, placeholders, tooltips) must
hold no untranslated English, no Python value (None, True, False, [], [...]) and no
Python repr.

English is told by vocabulary: the words of the catalogues' msgids (ours and FAB's own
English strings), of model and column names (FAB's generated labels), of role and
permission names — minus every word our Vietnamese translations themselves use (PDF,
Email, …) and a short allow-list of proper names and abbreviations."""

from __future__ import annotations

import re
from pathlib import Path

import flask_appbuilder
import html5lib
import pytest
from babel.messages.pofile import read_po
from flask_appbuilder.api import BaseApi
from flask_appbuilder.api.manager import SwaggerView
from sqlalchemy import select
from test_routes_get_safe import make_world, sample_path

from conftest import ROOT, login
from webapp.cli import create_user
from webapp.models import metadata

FAB_DIR = Path(flask_appbuilder.__file__).parent
APP_CATALOGUES = [
    ROOT / "translations" / "vi" / "LC_MESSAGES" / "messages.po",
    ROOT / "translations" / "flask_appbuilder" / "vi" / "LC_MESSAGES" / "messages.po",
]
# Proper names and abbreviations a Vietnamese screen may carry as they are.
ALLOWED = {
    "dangvien", "csdl", "pdf", "xlsx", "csv", "zip", "json", "api", "id", "ok", "email",
    "qr", "totp", "url", "http", "https", "ip", "usb", "rq", "jpeg", "png", "tiff", "jpg",
    "it", "hsđv", "tđv", "tctw", "btctw", "hd", "openapi", "swagger", "kinh",
    "admin",  # the administrator's user name (data, like any other user name)
}  # fmt: skip
WORD = re.compile(r"(?<![\w.@-])[A-Za-z]{2,}(?![\w@])")
# Words that are data, not the interface: e-mail addresses, URLs, file names, codes.
DATA = re.compile(r"\S+@\S+|https?://\S+|\S+\.(?:pdf|xlsx|csv|zip|jpg|png)\b|\b[A-Z]+\.[\w.]+")
# Python's values and reprs, and raw keys ("commendation_form") where a label belongs.
PYTHON_VALUE = re.compile(
    r"\b(?:None|True|False)\b|\[\s*\]|^\s*\[.*\]\s*$|<[\w.]+ object at 0x|^[a-z]+(?:_[a-z]+)+$"
)
VISIBLE_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label", "data-original-title")
SHOWN_INPUTS = {"submit", "button", "reset", "text"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
# An audit entry's recorded values (field: value lines) are summarised with the fields'
# labels by the audit-log item (issue 13, item 4), not here; everything else on it is.
AUDIT_ENTRY = "/auditentryview/show/"
RECORDED_VALUES = re.compile(r"^\w+: ")
HIDDEN_ELEMENTS = {"script", "style", "template", "noscript"}


def words_of(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(DATA.sub(" ", text))}


def catalogue_words() -> tuple[set[str], set[str]]:
    """(English words of every msgid, words of every Vietnamese msgstr)."""
    english, vietnamese = set(), set()
    for path in APP_CATALOGUES:
        with path.open("rb") as handle:
            catalogue = read_po(handle)
        for message in catalogue:
            if not message.id:
                continue  # the header
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for msgid in ids:
                english |= words_of(PLACEHOLDER.sub(" ", msgid or ""))
            for msgstr in strings:
                vietnamese |= words_of(PLACEHOLDER.sub(" ", msgstr or ""))
    # FAB's own English strings (its German catalogue's msgids; its headers trip read_po).
    fab_catalogue = FAB_DIR / "translations" / "de" / "LC_MESSAGES" / "messages.po"
    for msgid in re.findall(r'^msgid "(.*)"$', fab_catalogue.read_text("utf-8"), re.M):
        english |= words_of(PLACEHOLDER.sub(" ", msgid))
    return english, vietnamese


def split_name(name: str) -> set[str]:
    """`version_id` → version, id; `MemberEvent` → member, event; `can_list` → can, list."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")
    return words_of(spaced)


def english_words(app) -> set[str]:
    from webapp.models.record import CatalogueEntry

    english, vietnamese = catalogue_words()
    # The national catalogues are Vietnamese data (e.g. "Công an", "an ninh").
    for name in db_session_query(CatalogueEntry.name):
        vietnamese |= words_of(name[0])
    for table in metadata.sorted_tables:
        english |= split_name(table.name)
        for column in table.columns:
            english |= split_name(column.key)
    for mapper in metadata_mappers():
        english |= split_name(mapper.class_.__name__)
    sm = app.appbuilder.sm
    for role in sm.get_all_roles():
        english |= split_name(role.name)
    for pv in db_session_query(sm.permissionview_model):
        english |= split_name(pv.permission.name) | split_name(pv.view_menu.name)
    return english - vietnamese - ALLOWED


def db_session_query(model) -> list:
    from webapp.extensions import db

    return db.session.query(model).all()


def metadata_mappers():
    from webapp.extensions import db

    return list(db.Model.registry.mappers)


def visible_texts(html: str) -> list[str]:
    """What a reader sees: text nodes outside scripts and styles, the page title, button
    and option labels, placeholders and tooltips (values of text boxes too)."""
    document = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)
    texts: list[str] = []

    def walk(element, hidden: bool) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        # translate="no" (HTML's own mark) is stored data shown as it is: an audit
        # entry's raw record, with its hashes.
        hidden = hidden or tag in HIDDEN_ELEMENTS or element.get("translate") == "no"
        if not hidden:
            if element.text:
                texts.append(element.text)
            for name in VISIBLE_ATTRIBUTES:
                if element.get(name):
                    texts.append(element.get(name))
            shown_value = tag == "input" and element.get("type", "text") in SHOWN_INPUTS
            if shown_value and element.get("value"):
                texts.append(element.get("value"))
        for child in element:
            walk(child, hidden)
            if child.tail and not hidden:
                texts.append(child.tail)

    head = document.find("head")
    title = head.find("title") if head is not None else None
    if title is not None and title.text:
        texts.append(title.text)
    body = document.find("body")
    walk(body if body is not None else document, False)
    return [" ".join(t.split()) for t in texts if t.strip()]


def problems_on(html: str, english: set[str], data: set[str], path: str) -> set[str]:
    found = set()
    for text in visible_texts(html):
        if path.startswith(AUDIT_ENTRY) and RECORDED_VALUES.match(text):
            continue
        if text in data:
            continue
        if PYTHON_VALUE.search(text):
            found.add(f"Python value: {text!r}")
            continue
        untranslated = sorted(words_of(text) & english)
        if untranslated:
            found.add(f"English {untranslated}: {text!r}")
    return found


def html_screens(app, session, tree) -> list[str]:
    """A GET page of every FAB view (REST APIs and the API explorer aside), with ids of
    real rows; the member form's rows are added from the member's page (its filter)."""
    from webapp.models import Member
    from webapp.views.records import MemberRowView

    views = {id(view) for view in app.appbuilder.baseviews if not isinstance(view, BaseApi)}
    member_id = session.scalar(select(Member.id).order_by(Member.id).limit(1))
    paths = []
    for rule in app.url_map.iter_rules():
        view = getattr(app.view_functions[rule.endpoint], "__self__", None)
        if "GET" not in rule.methods or id(view) not in views or isinstance(view, SwaggerView):
            continue
        if rule.endpoint.rsplit(".", 1)[-1] in {"logout", "download", "action", "delete"}:
            continue
        path = sample_path(app, session, rule, tree)
        if isinstance(view, MemberRowView) and rule.endpoint.endswith(".add"):
            path += f"?_flt_0_member={member_id}"
        paths.append(path)
    return sorted(set(paths))


@pytest.mark.parametrize("role", ["Admin", "Clerk"])
def test_every_screen_speaks_vietnamese(app, db_session, role):
    tree = make_world(db_session)
    english = english_words(app)
    # Words users and tests typed: usernames and the like are data, shown as typed.
    data = {"admin", "manager_get", "clerk_vi"}
    client = app.test_client()
    if role == "Admin":
        login(client)
    else:
        create_user("clerk_vi", "Clerk", tree["D1"].code, "Clerk-Vi-123")
        login(client, "clerk_vi", "Clerk-Vi-123")
    pages, problems = 0, {}
    for path in html_screens(app, db_session, tree):
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        pages += 1
        found = problems_on(response.get_data(as_text=True), english, data, path)
        if found:
            problems[path] = sorted(found)
    assert not problems, "\n".join(
        f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items()
    )
    # Every screen was seen (a Clerk sees fewer: no users, roles, audit log).
    assert pages > (60 if role == "Admin" else 35), pages

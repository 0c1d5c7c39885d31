"""Phiếu đảng viên (form 2-HSĐV of guidance 12-HD/BTCTW): a member's record printed in
the sections and order of the paper form, with the standard photo in its box at the
corner, for one member or for the members on the rolls of a unit's subtree.

The form is not a table report: its build gives `MemberForm`s (heading lines, numbered
items, the repeating rows as small tables), drawn by the template member_form.html through
the same xhtml2pdf path, fonts and resource policy as every short report (pdf.py). The
photo travels inside the HTML as a data: URI, so the renderer reads no file itself.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from webapp.domain.errors import N_, DomainError, NotFound, ValidationFailed
from webapp.domain.photos import current_photo
from webapp.domain.reports import subtree_units
from webapp.domain.scope import scope_clause
from webapp.filestore import FileStore
from webapp.labels import format_birth_date, format_date
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.unit import Unit
from webapp.reports.document import printable_text
from webapp.reports.pdf import FONT_FAMILY, font_face_css, render_pdf, templates
from webapp.reports.spec import NOW, REQUESTER_SCOPE, ProgressCallback, ReportSpec

TITLE = "Phiếu đảng viên"
# xhtml2pdf holds the whole document in memory and takes about a second a form: a
# selection is one cell or grassroots organisation, not a district.
MAX_FORMS = 200
SEX = {"male": "Nam", "female": "Nữ"}
STATUS = {
    "probationary": "Dự bị",
    "official": "Chính thức",
    "transferred_out": "Đã chuyển sinh hoạt đi",
    "deceased": "Đã từ trần",
    "left": "Đã ra khỏi Đảng",
}
NONE = "Không"


@dataclass(frozen=True)
class Item:
    """A numbered item of the form: `label: value`, or a small table of its rows."""

    number: int
    label: str
    value: str = ""
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()

    @property
    def is_table(self) -> bool:
        return bool(self.columns)


@dataclass
class MemberForm:
    member_number: str
    card_number: str
    units: list[str]  # the Party organisations above the member, from the top down
    photo_uri: str | None  # data:image/jpeg;base64,… of the standard photo
    items: list[Item] = field(default_factory=list)


def _period(start: date | None, end: date | None) -> str:
    return f"{format_date(start)} – {format_date(end) if end else 'nay'}"


def _joined(*parts: Any, separator: str = "; ") -> str:
    return separator.join(str(part) for part in parts if part)


def form_items(member: Member) -> list[Item]:
    """The items of 2-HSĐV in the form's order: identity, birth, home town and residence,
    ethnicity and religion, qualifications, admission and recognition, positions and
    circumstances, then the repeating sections (work history, training, trips abroad,
    commendations, discipline, family relations)."""
    m = member
    values: list[tuple[str, str]] = [
        ("Họ và tên đang dùng", m.display_name),
        ("Họ và tên khai sinh", m.birth_name),
        ("Bí danh", m.alias or ""),
        ("Giới tính", SEX.get(m.sex, m.sex or "")),
        ("Sinh ngày", format_birth_date(m.birth_date, m.birth_date_precision)),
        ("Nơi sinh", m.birthplace or ""),
        ("Quê quán", m.home_town or ""),
        ("Nơi thường trú", m.permanent_address or ""),
        ("Nơi ở hiện nay", m.current_address or ""),
        ("Dân tộc", m.ethnicity or ""),
        ("Tôn giáo", m.religion or ""),
        ("Số định danh cá nhân (căn cước)", m.citizen_id or ""),
        ("Nghề nghiệp khi vào Đảng", m.occupation_at_admission or ""),
        ("Nghề nghiệp hiện nay", m.occupation or ""),
        (
            "Trình độ hiện nay",
            _joined(
                f"Giáo dục phổ thông: {m.general_education}" if m.general_education else "",
                f"Chuyên môn nghiệp vụ: {_joined(m.professional_level, m.professional_field, separator=', ')}"
                if m.professional_level or m.professional_field
                else "",
                f"Học hàm, học vị: {m.academic_title}" if m.academic_title else "",
                f"Lý luận chính trị: {m.political_theory}" if m.political_theory else "",
                f"Quản lý nhà nước: {m.state_management}" if m.state_management else "",
                f"Ngoại ngữ: {m.foreign_languages}" if m.foreign_languages else "",
                f"Tin học: {m.it_level}" if m.it_level else "",
            ),
        ),
        (
            "Ngày vào Đảng",
            _joined(
                format_date(m.admitted_on),
                f"tại {m.admitting_cell}" if m.admitting_cell else "",
                separator=", ",
            ),
        ),
        (
            "Người giới thiệu",
            _joined(
                f"thứ nhất: {m.introducer_1}" if m.introducer_1 else "",
                f"thứ hai: {m.introducer_2}" if m.introducer_2 else "",
            ),
        ),
        ("Ngày chính thức", format_date(m.official_on)),
        ("Ngày vào Đoàn TNCS Hồ Chí Minh", format_date(m.youth_union_on)),
        ("Tình trạng đảng viên", STATUS.get(m.status, m.status or "")),
        ("Chức vụ Đảng", m.party_position or ""),
        ("Chức vụ chính quyền, đoàn thể", m.government_position or ""),
        ("Tình trạng sức khỏe", m.health or ""),
        (
            "Là quân nhân, thương binh, gia đình liệt sĩ",
            _joined(
                "Cựu chiến binh" if m.veteran else "",
                f"Thương binh, bệnh binh {m.war_invalid}" if m.war_invalid else "",
                "Gia đình liệt sĩ" if m.martyr_family else "",
            )
            or NONE,
        ),
    ]
    items = [Item(number, label, value) for number, (label, value) in enumerate(values, start=1)]
    tables = [
        (
            "Tóm tắt quá trình công tác",
            ("Từ – đến", "Làm công việc gì, ở đâu, giữ chức vụ gì"),
            [[_period(w.starts_on, w.ends_on), w.description] for w in m.work_periods],
        ),
        (
            "Đào tạo, bồi dưỡng",
            ("Từ – đến", "Tên trường, cơ sở đào tạo", "Ngành học", "Hình thức", "Văn bằng"),
            [
                [
                    _period(t.starts_on, t.ends_on),
                    t.institution,
                    t.field or "",
                    t.study_form or "",
                    t.qualification or "",
                ]
                for t in m.training_courses
            ],
        ),
        (
            "Đi nước ngoài",
            ("Từ – đến", "Nước", "Nội dung đi"),
            [[_period(t.starts_on, t.ends_on), t.country, t.purpose or ""] for t in m.trips_abroad],
        ),
        (
            "Khen thưởng",
            ("Ngày", "Hình thức", "Cấp quyết định", "Số quyết định", "Lý do"),
            [
                [
                    format_date(c.awarded_on),
                    c.form,
                    c.level or "",
                    c.decision_number or "",
                    c.reason or "",
                ]
                for c in m.commendations
            ],
        ),
        (
            "Kỷ luật",
            ("Ngày", "Hình thức", "Cấp quyết định", "Số quyết định", "Lý do"),
            [
                [
                    format_date(d.decided_on),
                    d.form,
                    d.level or "",
                    d.decision_number or "",
                    d.reason,
                ]
                for d in m.disciplines
            ],
        ),
        (
            "Hoàn cảnh gia đình (quan hệ gia đình)",
            ("Quan hệ", "Họ và tên", "Năm sinh", "Nghề nghiệp", "Hoàn cảnh, chính trị"),
            [
                [
                    f.relation,
                    f.full_name,
                    str(f.birth_year or ""),
                    f.occupation or "",
                    f.notes or "",
                ]
                for f in m.family_relations
            ],
        ),
    ]
    for offset, (label, columns, rows) in enumerate(tables, start=len(items) + 1):
        items.append(Item(offset, label, columns=columns, rows=rows))
    return items


def _photo_uri(session: Session, store: FileStore, member: Member) -> str | None:
    photo = current_photo(session, member.id)
    if photo is None or not photo.standard_path or not store.exists(photo.standard_path):
        return None
    data = base64.b64encode(store.read_bytes(photo.standard_path)).decode("ascii")
    return f"data:image/jpeg;base64,{data}"


def _units_above(session: Session, unit: Unit) -> list[str]:
    ids = [int(part) for part in unit.path.strip("/").split("/") if part]
    names = dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all())
    return [names[i] for i in ids if i in names]


def _selection(unit: Unit, parameters: Mapping[str, Any], scope: str | None):
    """The members a run prints: the chosen ones, or those on the rolls of the subtree;
    always inside the run's unit and the requester's scope."""
    query = select(Member).where(
        Member.unit_id.in_(subtree_units(unit)), scope_clause(Member, scope)
    )
    chosen = parameters.get("member_ids")
    if chosen:
        return query.where(Member.id.in_([int(i) for i in chosen]))
    return query.where(Member.status.in_(ON_THE_ROLLS))


def build(session: Session, unit: Unit, parameters: dict[str, Any]) -> list[MemberForm]:
    scope = parameters.get(REQUESTER_SCOPE, unit.path)
    store = FileStore(current_app.config["DATA_DIR"])
    members = session.scalars(
        _selection(unit, parameters, scope)
        .join(Unit, Unit.id == Member.unit_id)
        .options(
            selectinload(Member.work_periods),
            selectinload(Member.training_courses),
            selectinload(Member.trips_abroad),
            selectinload(Member.commendations),
            selectinload(Member.disciplines),
            selectinload(Member.family_relations),
        )
        .order_by(Unit.path, Member.sort_key, Member.id)
    ).all()
    return [
        MemberForm(
            member_number=member.member_number,
            card_number=member.card_number or "",
            units=_units_above(session, member.unit),
            photo_uri=_photo_uri(session, store, member),
            items=form_items(member),
        )
        for member in members
    ]


def _clean(form: MemberForm) -> MemberForm:
    """Legacy text with control characters never reaches the PDF (as every report)."""

    def text(value: str) -> str:
        return printable_text(value or "")

    return MemberForm(
        member_number=text(form.member_number),
        card_number=text(form.card_number),
        units=[text(name) for name in form.units],
        photo_uri=form.photo_uri,
        items=[
            Item(
                item.number,
                item.label,
                text(item.value),
                item.columns,
                [[text(cell) for cell in row] for row in item.rows],
            )
            for item in form.items
        ],
    )


def render(
    session: Session,
    unit: Unit,
    parameters: dict[str, Any],
    output_format: str,
    path: Path,
    progress: ProgressCallback,
) -> int:
    """The report framework's render function for the forms (PDF only)."""
    forms = [_clean(form) for form in build(session, unit, parameters)]
    progress(40)
    config = current_app.config
    today = date.today()
    html = templates.get_template("member_form.html").render(
        font_css=Markup(font_face_css()),
        font_family=FONT_FAMILY,
        forms=forms,
        issuing_committee=printable_text(config["ISSUING_COMMITTEE"]),
        place=printable_text(config["ISSUING_PLACE"]),
        issued_on=today,
        empty=not forms,
    )
    with path.open("wb") as output:
        render_pdf(html, output)
    progress(100)
    return len(forms)


def check_member_ids(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`member_ids`: the chosen members (whole numbers); none means the unit's members."""
    chosen = raw.get("member_ids")
    if chosen in (None, "", []):
        return {}
    values = chosen if isinstance(chosen, list | tuple) else [chosen]
    ids: set[int] = set()
    for value in values:
        text = str(value).strip() if isinstance(value, int | str) else ""
        if isinstance(value, bool) or not (text.isascii() and text.isdigit() and len(text) < 10):
            raise ValidationFailed(
                {"member_ids": [(N_("The report parameters are not valid."), {})]}
            )
        ids.add(int(text))
    return {"member_ids": sorted(ids)}


def check_selection(session: Session, unit: Unit, parameters: Mapping[str, Any]) -> None:
    """Every chosen member is in the unit's subtree (the unit is in the requester's
    scope); a selection is not larger than MAX_FORMS."""
    query = _selection(unit, parameters, unit.path)
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    chosen = parameters.get("member_ids")
    if chosen and count != len(chosen):
        raise NotFound(N_("The member does not exist."))
    if count > MAX_FORMS:
        raise DomainError(
            N_(
                "The selection has %(count)s members; print at most %(limit)s forms at a "
                "time (choose a cell or a smaller unit)."
            ),
            count=count,
            limit=MAX_FORMS,
        )


MEMBER_FORM = ReportSpec(
    name="member-form",
    title=N_("Party member form (2-HSĐV)"),
    formats=("pdf",),
    render=render,
    file_stem="phieu-dang-vien",
    period=NOW,
    check_extra=check_member_ids,
    check_selection=check_selection,
)

"""Printables of the card and badge workflows (DESIGN §5): the proposal list (1-TĐV), the
decision with its annex, the hand-over list to sign, the card data for the card printer,
and the badge proposal list and decision of an occasion.

Every report covers the requested unit's subtree (the run's unit is already checked against
the requester's scope); `batch_id` narrows a card report to one batch, `occasion` picks
the badge round (default: the next occasion).
"""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.badges import next_occasion_after
from webapp.domain.errors import N_
from webapp.domain.reports import subtree_units
from webapp.filestore import FileStore
from webapp.labels import format_birth_date, format_date
from webapp.models.badges import BadgeAward, BadgeProposal, BadgeProposalState
from webapp.models.cards import CardProposal, CardReason, PartyCard, ProposalState
from webapp.models.files import MemberPhoto
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.reports.document import (
    INTEGER,
    TEXT,
    Column,
    DataTable,
    Section,
    TableReport,
    official_heading,
)
from webapp.reports.render import renders, write_report
from webapp.reports.spec import NOW, ProgressCallback, ReportSpec

REASONS = {
    CardReason.NEW_OFFICIAL: "Đảng viên mới chính thức",
    CardReason.LOST: "Mất thẻ",
    CardReason.DAMAGED: "Hỏng thẻ",
    CardReason.NAME_CHANGE: "Đổi họ tên",
}
CARD_STATES = {
    ProposalState.PROPOSED: "Đề nghị",
    ProposalState.APPROVED: "Đã duyệt",
    ProposalState.REJECTED: "Không duyệt",
    ProposalState.ISSUED: "Đã cấp thẻ",
    ProposalState.REVOKED: "Thẻ đã thu hồi",
}
BADGE_KINDS = {
    "automatic": "Đủ tuổi Đảng",
    "early": "Trao sớm (ốm nặng)",
    "posthumous": "Truy tặng",
    "reissue": "Cấp lại",
}
BADGE_STATES = {
    BadgeProposalState.PROPOSED: "Đề nghị",
    BadgeProposalState.APPROVED: "Đã duyệt",
    BadgeProposalState.REJECTED: "Không duyệt",
    BadgeProposalState.AWARDED: "Đã trao",
}


def _in_subtree(unit: Unit):
    return Member.unit_id.in_(subtree_units(unit))


def _card_proposals(session: Session, unit: Unit, parameters: dict, states) -> list[CardProposal]:
    query = (
        select(CardProposal)
        .join(Member, Member.id == CardProposal.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(_in_subtree(unit), CardProposal.state.in_(states))
        .order_by(Unit.path, Member.sort_key, CardProposal.id)
    )
    batch_id = parameters.get("batch_id")
    if batch_id is not None:
        query = query.where(CardProposal.batch_id == int(batch_id))
    chosen = parameters.get("proposal_ids")
    if chosen:
        query = query.where(CardProposal.id.in_([int(i) for i in chosen]))
    return list(session.scalars(query))


def _listing(
    unit: Unit,
    title: str,
    subtitle: str,
    columns: list[tuple[str, float]],
    rows: list[list[Any]],
    *,
    orientation: str = "landscape",
    document_number: str = "……/DS-BTC",
    signer_title: str = "T/M BAN TỔ CHỨC",
    intro: list[str] | None = None,
    annex_title: str | None = None,
) -> TableReport:
    """A list of members under the official heading, closed by its head count; the first
    column is the running number."""
    return TableReport(
        heading=official_heading(
            unit,
            title,
            {},
            subtitle=subtitle,
            orientation=orientation,
            document_number=document_number,
            signer_title=signer_title,
        ),
        tables=[
            DataTable(
                columns=[
                    Column(name, INTEGER if index == 0 else TEXT, width)
                    for index, (name, width) in enumerate(columns)
                ],
                sections=[Section(None, rows)],
                sheet_name=title,
                closing=f"Tổng số: {len(rows)} đồng chí",
                empty="Không có đảng viên nào trong danh sách.",
            )
        ],
        intro=intro or [],
        annex_title=annex_title,
    )


def _subtitle(unit: Unit, parameters: dict) -> str:
    batch = parameters.get("batch_id")
    return f"{unit.name}" + (f" – đợt đề nghị số {batch}" if batch is not None else "")


def build_card_proposals(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    states = (ProposalState.PROPOSED, ProposalState.APPROVED, ProposalState.ISSUED)
    if parameters.get("batch_id") is not None:
        states = tuple(ProposalState)
    proposals = _card_proposals(session, unit, parameters, states)
    rows = [
        [
            i,
            p.member.display_name,
            format_birth_date(p.member.birth_date, p.member.birth_date_precision),
            p.member.member_number,
            p.member.unit.name,
            format_date(p.member.admitted_on),
            format_date(p.member.official_on),
            REASONS.get(p.reason, p.reason)
            + (f": {p.explanation}" if p.explanation else "")
            + (f" (ảnh {p.photo_reference})" if p.photo_reference else ""),
            CARD_STATES.get(p.state, p.state),
        ]
        for i, p in enumerate(proposals, start=1)
    ]
    return _listing(
        unit,
        "Danh sách đề nghị cấp thẻ đảng viên",
        _subtitle(unit, parameters),
        [
            ("STT", 4),
            ("Họ và tên", 17),
            ("Ngày sinh", 9),
            ("Số lý lịch", 9),
            ("Chi bộ", 17),
            ("Ngày vào Đảng", 9),
            ("Ngày chính thức", 9),
            ("Lý do", 17),
            ("Tình trạng", 9),
        ],
        rows,
        signer_title="T/M CẤP ỦY",
    )


def build_card_decision(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    proposals = _card_proposals(
        session, unit, parameters, (ProposalState.APPROVED, ProposalState.ISSUED)
    )
    rows = [
        [
            i,
            p.member.display_name,
            format_birth_date(p.member.birth_date, p.member.birth_date_precision),
            p.member.member_number,
            p.member.unit.name,
            REASONS.get(p.reason, p.reason),
            p.card.number if p.card else "",
            format_date(p.card.issued_on) if p.card else "",
        ]
        for i, p in enumerate(proposals, start=1)
    ]
    return _listing(
        unit,
        "Quyết định về việc cấp thẻ đảng viên",
        _subtitle(unit, parameters),
        [
            ("STT", 5),
            ("Họ và tên", 22),
            ("Ngày sinh", 10),
            ("Số lý lịch", 10),
            ("Chi bộ", 21),
            ("Lý do cấp", 13),
            ("Số thẻ", 10),
            ("Ngày cấp", 9),
        ],
        rows,
        orientation="portrait",
        document_number="……-QĐ/TU",
        intro=[
            "Căn cứ Điều lệ Đảng Cộng sản Việt Nam và các quy định, hướng dẫn của Trung ương "
            "về công tác quản lý đảng viên và cấp, phát thẻ đảng viên;",
            f"Xét đề nghị của {unit.name} và của Ban Tổ chức,",
            f"Điều 1. Cấp thẻ đảng viên cho {len(rows)} đồng chí có tên trong danh sách kèm theo "
            "Quyết định này.",
            "Điều 2. Các cấp ủy có liên quan và các đồng chí có tên tại Điều 1 chịu trách nhiệm "
            "thi hành Quyết định này.",
        ],
        annex_title="Danh sách kèm theo Quyết định",
        signer_title="T/M BAN THƯỜNG VỤ",
    )


def build_card_handover(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    proposals = _card_proposals(session, unit, parameters, (ProposalState.ISSUED,))
    rows = [
        [
            i,
            p.member.display_name,
            p.member.member_number,
            p.card.number if p.card else "",
            p.member.unit.name,
            format_date(p.card.issued_on) if p.card else "",
            "",
            "",
        ]
        for i, p in enumerate(proposals, start=1)
    ]
    return _listing(
        unit,
        "Danh sách giao nhận thẻ đảng viên",
        _subtitle(unit, parameters),
        [
            ("STT", 5),
            ("Họ và tên", 22),
            ("Số lý lịch", 10),
            ("Số thẻ", 10),
            ("Chi bộ", 21),
            ("Ngày cấp", 10),
            ("Ngày nhận", 10),
            ("Ký nhận", 12),
        ],
        rows,
        signer_title="NGƯỜI GIAO",
    )


PHOTO_COLUMN = "Ảnh"
NO_PHOTO = "Chưa có ảnh"
PHOTO_FOLDER = "anh"
DATA_FILE_NAME = "du-lieu-in-the.xlsx"
PRINTER_COLUMNS = [
    "Số thẻ",
    "Họ và tên",
    "Ngày sinh",
    "Ngày vào Đảng",
    "Ngày chính thức",
    "Ngày cấp",
    "Nơi cấp",
    "Số lý lịch",
    "Chi bộ",
]


def _printer_cards(session: Session, unit: Unit, parameters: dict[str, Any]) -> list[PartyCard]:
    """The issued, valid cards of the subtree (of a batch, or the chosen proposals)."""
    query = (
        select(PartyCard)
        .join(Member, Member.id == PartyCard.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(_in_subtree(unit), PartyCard.state == "valid")
        .order_by(PartyCard.number)
    )
    batch_id = parameters.get("batch_id")
    if batch_id is not None:
        query = query.where(
            PartyCard.id.in_(
                select(CardProposal.card_id).where(CardProposal.batch_id == int(batch_id))
            )
        )
    chosen = parameters.get("proposal_ids")
    if chosen:
        query = query.where(
            PartyCard.id.in_(
                select(CardProposal.card_id).where(CardProposal.id.in_([int(i) for i in chosen]))
            )
        )
    return list(session.scalars(query))


def _printer_data(cards: list[PartyCard], photo_names: dict[int, str] | None) -> TableReport:
    """The card printer's data file: the column titles, then a row per card; with
    `photo_names` (member id → file in the ZIP) a last column names each photo, or says
    the member has none."""
    issuer = current_app.config["ISSUING_COMMITTEE"]
    titles = PRINTER_COLUMNS if photo_names is None else [*PRINTER_COLUMNS, PHOTO_COLUMN]
    rows = []
    for card in cards:
        row = [
            card.number,
            card.member.display_name,
            format_birth_date(card.member.birth_date, card.member.birth_date_precision),
            format_date(card.member.admitted_on),
            format_date(card.member.official_on),
            format_date(card.issued_on),
            issuer,
            card.member.member_number,
            card.member.unit.name,
        ]
        if photo_names is not None:
            row.append(photo_names.get(card.member_id, NO_PHOTO))
        rows.append(row)
    return TableReport(
        heading=None,
        tables=[
            DataTable(
                columns=[Column(title, TEXT, 16) for title in titles],
                sections=[Section(None, rows)],
                sheet_name="Thẻ đảng viên",
            )
        ],
    )


def build_card_printer_data(
    session: Session, unit: Unit, parameters: dict[str, Any]
) -> TableReport:
    """One row per issued, valid card: what the card printer prints (a plain data file:
    the column titles, then the rows)."""
    return _printer_data(_printer_cards(session, unit, parameters), None)


def photo_file_name(member_number: str) -> str:
    """The photo's name in the ZIP: the member number (only letters, digits, - and _)."""
    return (
        "".join(
            ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in member_number
        )
        + ".jpg"
    )


def render_card_printer_data(
    session: Session,
    unit: Unit,
    parameters: dict[str, Any],
    output_format: str,
    path: Path,
    progress: ProgressCallback,
) -> int:
    """The data file as XLSX or CSV; as ZIP, the XLSX data file with each member's
    standard photo beside it, named by member number (members without a photo are named
    so in the data file's last column)."""
    if output_format != "zip":
        return _render_plain(session, unit, parameters, output_format, path, progress)
    cards = _printer_cards(session, unit, parameters)
    photos = {
        photo.member_id: photo
        for photo in session.scalars(
            select(MemberPhoto).where(
                MemberPhoto.current,
                MemberPhoto.member_id.in_([card.member_id for card in cards]),
            )
        )
    }
    store = FileStore(current_app.config["DATA_DIR"])
    names = {
        card.member_id: f"{PHOTO_FOLDER}/{photo_file_name(card.member.member_number)}"
        for card in cards
        if card.member_id in photos
        and photos[card.member_id].standard_path
        and store.exists(photos[card.member_id].standard_path)
    }
    progress(20)
    data_file = path.with_name(path.name + ".xlsx")
    try:
        write_report(_printer_data(cards, names), "xlsx", data_file)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(data_file, DATA_FILE_NAME)
            for done, (member_id, name) in enumerate(names.items(), start=1):
                # JPEGs do not deflate: stored as they are.
                archive.write(
                    store.absolute(photos[member_id].standard_path),
                    name,
                    compress_type=zipfile.ZIP_STORED,
                )
                progress(20 + 80 * done // max(len(names), 1))
    finally:
        data_file.unlink(missing_ok=True)
    progress(100)
    return len(cards)


_render_plain = renders(build_card_printer_data)


def _occasion(session: Session, parameters: dict[str, Any]) -> date:
    value = parameters.get("occasion")
    return date.fromisoformat(value) if value else next_occasion_after(session, date.today())


def build_badge_proposals(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    occasion = _occasion(session, parameters)
    proposals = session.scalars(
        select(BadgeProposal)
        .join(Member, Member.id == BadgeProposal.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(
            _in_subtree(unit),
            BadgeProposal.occasion_on == occasion,
            BadgeProposal.state != BadgeProposalState.REJECTED,
        )
        .order_by(BadgeProposal.milestone.desc(), Unit.path, Member.sort_key)
    ).all()
    rows = [
        [
            i,
            p.member.display_name,
            format_birth_date(p.member.birth_date, p.member.birth_date_precision),
            p.member.unit.name,
            format_date(p.member.admitted_on),
            f"{p.milestone} năm",
            BADGE_KINDS.get(p.kind, p.kind),
            p.reason,
            BADGE_STATES.get(p.state, p.state),
        ]
        for i, p in enumerate(proposals, start=1)
    ]
    return _listing(
        unit,
        "Danh sách đề nghị tặng Huy hiệu Đảng",
        f"{unit.name} – đợt {format_date(occasion)}",
        [
            ("STT", 4),
            ("Họ và tên", 15),
            ("Ngày sinh", 8),
            ("Chi bộ", 14),
            ("Ngày vào Đảng", 8),
            ("Huy hiệu", 7),
            ("Hình thức", 9),
            ("Lý do", 27),
            ("Tình trạng", 8),
        ],
        rows,
        signer_title="T/M CẤP ỦY",
    )


def build_badge_decision(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    occasion = _occasion(session, parameters)
    awards = session.scalars(
        select(BadgeAward)
        .join(Member, Member.id == BadgeAward.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(_in_subtree(unit), BadgeAward.occasion_on == occasion)
        .order_by(BadgeAward.milestone.desc(), Unit.path, Member.sort_key)
    ).all()
    rows = [
        [
            i,
            a.member.display_name + (" (truy tặng)" if a.posthumous else ""),
            format_birth_date(a.member.birth_date, a.member.birth_date_precision),
            a.member.unit.name,
            f"{a.milestone} năm",
            a.badge_number,
            f"{a.decision_number} ngày {format_date(a.decision_on)}",
        ]
        for i, a in enumerate(awards, start=1)
    ]
    by_milestone: dict[int, int] = {}
    for a in awards:
        by_milestone[a.milestone] = by_milestone.get(a.milestone, 0) + 1
    counts = ", ".join(f"{n} đồng chí Huy hiệu {m} năm tuổi Đảng" for m, n in by_milestone.items())
    return _listing(
        unit,
        "Quyết định tặng Huy hiệu Đảng",
        f"{unit.name} – đợt {format_date(occasion)}",
        [
            ("STT", 5),
            ("Họ và tên", 25),
            ("Ngày sinh", 10),
            ("Chi bộ", 22),
            ("Huy hiệu", 10),
            ("Số huy hiệu", 10),
            ("Quyết định", 18),
        ],
        rows,
        orientation="portrait",
        document_number="……-QĐ/TU",
        intro=[
            "Căn cứ Điều lệ Đảng Cộng sản Việt Nam và quy định của Trung ương về xét tặng "
            "Huy hiệu Đảng;",
            f"Xét đề nghị của {unit.name} và của Ban Tổ chức,",
            f"Điều 1. Tặng Huy hiệu Đảng nhân dịp {format_date(occasion)} cho "
            f"{len(rows)} đồng chí có tên trong danh sách kèm theo"
            + (f" ({counts})." if counts else "."),
            "Điều 2. Các cấp ủy có liên quan và các đồng chí có tên tại Điều 1 chịu trách nhiệm "
            "thi hành Quyết định này.",
        ],
        annex_title="Danh sách kèm theo Quyết định",
        signer_title="T/M BAN THƯỜNG VỤ",
    )


def card_and_badge_parameters(raw: dict[str, Any]) -> dict[str, Any]:
    """The parameters these reports read, checked: `batch_id` (whole number),
    `proposal_ids` (whole numbers: print selected), `occasion` (ISO date). For the report
    framework's parameter check to keep."""
    from webapp.domain.dates import parse_date
    from webapp.domain.errors import ValidationFailed

    kept: dict[str, Any] = {}
    try:
        if raw.get("batch_id") not in (None, ""):
            kept["batch_id"] = int(raw["batch_id"])
        if raw.get("proposal_ids"):
            kept["proposal_ids"] = sorted(int(i) for i in raw["proposal_ids"])
        if raw.get("occasion"):
            kept["occasion"] = parse_date(str(raw["occasion"]), "occasion").isoformat()
    except (TypeError, ValueError):
        raise ValidationFailed(
            {"parameters": [(N_("The report parameters are not valid."), {})]}
        ) from None
    return kept


def _spec(name, title, formats, render, stem) -> ReportSpec:
    """Launched from the batch and round pages, which pass the batch, the chosen rows or
    the occasion; not on the general report screen."""
    return ReportSpec(
        name=name,
        title=title,
        formats=formats,
        render=render,
        file_stem=stem,
        period=NOW,
        check_extra=card_and_badge_parameters,
        listed=False,
    )


CARD_AND_BADGE_REPORTS = (
    _spec(
        "card-proposals",
        N_("Party card proposal list"),
        ("pdf",),
        renders(build_card_proposals),
        "de-nghi-cap-the",
    ),
    _spec(
        "card-decision",
        N_("Party card decision with annex"),
        ("pdf",),
        renders(build_card_decision),
        "quyet-dinh-cap-the",
    ),
    _spec(
        "card-handover",
        N_("Party card hand-over list"),
        ("pdf",),
        renders(build_card_handover),
        "giao-nhan-the",
    ),
    _spec(
        "card-printer-data",
        N_("Party card data for the card printer"),
        ("zip", "xlsx", "csv"),
        render_card_printer_data,
        "du-lieu-in-the",
    ),
    _spec(
        "badge-proposals",
        N_("Party badge proposal list"),
        ("pdf",),
        renders(build_badge_proposals),
        "de-nghi-huy-hieu",
    ),
    _spec(
        "badge-decision",
        N_("Party badge decision with annex"),
        ("pdf",),
        renders(build_badge_decision),
        "quyet-dinh-huy-hieu",
    ),
)

"""Danh sách thẻ đảng viên và Huy hiệu Đảng of a subtree for a period: cards issued,
card proposals waiting, members who need a card; badges awarded, badge proposals waiting,
and who becomes eligible on the next occasion after the period (DESIGN §5)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.badges import eligible_for_badges, next_occasion_after
from webapp.domain.cards import needing_card_clause
from webapp.domain.errors import N_
from webapp.domain.report_figures import TOTAL, card_badge_rolls, count_rolls, figure_count
from webapp.domain.reports import subtree_units
from webapp.labels import format_birth_date
from webapp.models.badges import BadgeAward, BadgeProposal, BadgeProposalState
from webapp.models.cards import OPEN_PROPOSAL_STATES, CardProposal, PartyCard
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.reports.cards_badges import BADGE_KINDS, BADGE_STATES, CARD_STATES, REASONS
from webapp.reports.document import (
    DATE,
    INTEGER,
    TEXT,
    Column,
    DataTable,
    Section,
    TableReport,
    official_heading,
)
from webapp.reports.render import renders
from webapp.reports.spec import PERIOD, ReportSpec

TITLE = "Danh sách thẻ đảng viên và Huy hiệu Đảng"
MEMBER_COLUMNS = [
    Column("STT", INTEGER, 3),
    Column("Họ và tên", TEXT, 14),
    Column("Ngày sinh", TEXT, 7),
    Column("Số lý lịch", TEXT, 8),
    Column("Chi bộ", TEXT, 14),
]


# The summary's lines: figure key of `card_badge_rolls` → label (the occasion in the last).
SUMMARY_FIGURES = (
    "cards_issued",
    "cards_issued|withdrawn",
    "card_proposals",
    "needing_card",
    "badges_awarded",
    "badge_proposals",
    "badge_eligible",
)
SUMMARY_LABELS = {
    "cards_issued": lambda _: "Thẻ đảng viên đã cấp trong kỳ",
    "cards_issued|withdrawn": lambda _: "   trong đó: đã thu hồi hoặc thu lại",
    "card_proposals": lambda _: "Đề nghị cấp thẻ đang chờ duyệt hoặc chờ cấp",
    "needing_card": lambda _: "Đảng viên chính thức chưa có thẻ, chưa đề nghị",
    "badges_awarded": lambda _: "Huy hiệu Đảng đã trao trong kỳ",
    "badge_proposals": lambda _: "Đề nghị tặng Huy hiệu Đảng đang chờ",
    "badge_eligible": lambda occasion: (
        "Đủ điều kiện xét tặng dịp " + (f"{occasion:%d/%m/%Y}" if occasion else "tới")
    ),
}


def _subtree(root: Unit):
    return Member.unit_id.in_(subtree_units(root))


def _member_cells(number: int, member: Member) -> list[Any]:
    return [
        number,
        member.display_name,
        format_birth_date(member.birth_date, member.birth_date_precision),
        member.member_number,
        member.unit.name,
    ]


def _table(caption: str, extra: list[Column], rows: list[list[Any]], sheet: str) -> DataTable:
    return DataTable(
        columns=[*MEMBER_COLUMNS, *extra],
        sections=[Section(None, rows)],
        caption=caption,
        sheet_name=sheet,
    )


def build(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    start, end = date.fromisoformat(parameters["from"]), date.fromisoformat(parameters["to"])
    in_subtree = _subtree(unit)
    ordering = (Unit.code, Member.sort_key, Member.id)

    issued = session.execute(
        select(PartyCard, Member)
        .join(Member, Member.id == PartyCard.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(in_subtree, PartyCard.issued_on.between(start, end))
        .order_by(*ordering)
    ).all()
    pending_cards = session.execute(
        select(CardProposal, Member)
        .join(Member, Member.id == CardProposal.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(in_subtree, CardProposal.state.in_(OPEN_PROPOSAL_STATES))
        .order_by(*ordering)
    ).all()
    needing = session.scalars(
        select(Member)
        .join(Unit, Unit.id == Member.unit_id)
        .where(in_subtree, needing_card_clause())
        .order_by(*ordering)
    ).all()
    awarded = session.execute(
        select(BadgeAward, Member)
        .join(Member, Member.id == BadgeAward.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(in_subtree, BadgeAward.decision_on.between(start, end))
        .order_by(*ordering)
    ).all()
    pending_badges = session.execute(
        select(BadgeProposal, Member)
        .join(Member, Member.id == BadgeProposal.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(
            in_subtree,
            BadgeProposal.state.in_((BadgeProposalState.PROPOSED, BadgeProposalState.APPROVED)),
        )
        .order_by(*ordering)
    ).all()
    occasion = next_occasion_after(session, end)
    eligible = eligible_for_badges(session, unit, occasion) if occasion else []
    eligible_members = {
        member.id: member
        for member in session.scalars(
            select(Member).where(Member.id.in_([e.member_id for e in eligible]))
        )
    }

    # The summary's figures from the rolls the on-screen drill-down lists.
    counts = count_rolls(
        session,
        card_badge_rolls(session, unit, start, end, eligible=[e.member_id for e in eligible]),
    )

    def figure(key: str) -> int:
        return figure_count(counts, TOTAL, key)

    summary = DataTable(
        columns=[Column("Nội dung", TEXT, 40), Column("Số lượng", INTEGER, 10)],
        sections=[
            Section(
                None,
                [[SUMMARY_LABELS[key](occasion), figure(key)] for key in SUMMARY_FIGURES],
            )
        ],
        caption="I. Tổng hợp",
        sheet_name="Tổng hợp",
        counted=False,  # the run counts the members listed
    )
    tables = [
        summary,
        _table(
            "II. Thẻ đảng viên đã cấp trong kỳ",
            [Column("Số thẻ", TEXT, 8), Column("Ngày cấp", DATE, 7), Column("Tình trạng", TEXT, 9)],
            [
                [
                    *_member_cells(i, member),
                    card.number,
                    card.issued_on,
                    {
                        "valid": "Còn hiệu lực",
                        "revoked": "Đã thu hồi",
                        "withdrawn": "Đã thu lại",
                    }.get(card.state, card.state),
                ]
                for i, (card, member) in enumerate(issued, start=1)
            ],
            "Thẻ đã cấp",
        ),
        _table(
            "III. Đề nghị cấp thẻ đang chờ",
            [Column("Lý do", TEXT, 10), Column("Tình trạng", TEXT, 9)],
            [
                [
                    *_member_cells(i, member),
                    REASONS.get(p.reason, p.reason),
                    CARD_STATES.get(p.state, p.state),
                ]
                for i, (p, member) in enumerate(pending_cards, start=1)
            ],
            "Đề nghị thẻ",
        ),
        _table(
            "IV. Đảng viên chính thức chưa có thẻ",
            [Column("Ngày chính thức", DATE, 8)],
            [[*_member_cells(i, m), m.official_on] for i, m in enumerate(needing, start=1)],
            "Cần cấp thẻ",
        ),
        _table(
            "V. Huy hiệu Đảng đã trao trong kỳ",
            [
                Column("Huy hiệu", TEXT, 7),
                Column("Số huy hiệu", TEXT, 8),
                Column("Quyết định", TEXT, 12),
            ],
            [
                [
                    *_member_cells(i, member),
                    f"{award.milestone} năm",
                    award.badge_number,
                    f"{award.decision_number} ngày {award.decision_on:%d/%m/%Y}"
                    + (" (truy tặng)" if award.posthumous else ""),
                ]
                for i, (award, member) in enumerate(awarded, start=1)
            ],
            "Huy hiệu đã trao",
        ),
        _table(
            "VI. Đề nghị tặng Huy hiệu Đảng đang chờ",
            [
                Column("Huy hiệu", TEXT, 7),
                Column("Dịp", DATE, 7),
                Column("Loại", TEXT, 8),
                Column("Tình trạng", TEXT, 8),
            ],
            [
                [
                    *_member_cells(i, member),
                    f"{p.milestone} năm",
                    p.occasion_on,
                    BADGE_KINDS.get(p.kind, p.kind),
                    BADGE_STATES.get(p.state, p.state),
                ]
                for i, (p, member) in enumerate(pending_badges, start=1)
            ],
            "Đề nghị huy hiệu",
        ),
        _table(
            "VII. Đủ điều kiện xét tặng Huy hiệu Đảng dịp "
            + (f"{occasion:%d/%m/%Y}" if occasion else "tới"),
            [Column("Huy hiệu", TEXT, 7), Column("Căn cứ", TEXT, 24)],
            [
                [*_member_cells(i, eligible_members[e.member_id]), f"{e.milestone} năm", e.reason]
                for i, e in enumerate(
                    sorted(
                        (e for e in eligible if e.member_id in eligible_members),
                        key=lambda e: (
                            eligible_members[e.member_id].unit.code,
                            eligible_members[e.member_id].sort_key,
                        ),
                    ),
                    start=1,
                )
            ],
            "Đủ điều kiện",
        ),
    ]
    return TableReport(heading=official_heading(unit, TITLE, parameters), tables=tables)


render = renders(build)


CARD_BADGE_LISTS = ReportSpec(
    name="cards-badges",
    title=N_("Party card and badge lists"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="the-huy-hieu",
    period=PERIOD,
)

"""A realistic, deterministic demo province: units (tree) and members.

Same seed, same province. Names come from Faker's vi_VN locale; dates obey the member
rules (admitted at 18 or older, official a year after admission, no future dates). Every
unit, member, row, event, supplement and merge goes through the domain's commands, as
the system, batched into a few transactions.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from faker import Faker
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.cards import check_prefix, register_card
from webapp.domain.commands import Requester, transaction
from webapp.domain.events import EventInput, record_event
from webapp.domain.ledger import EventKind
from webapp.domain.members import create_member
from webapp.domain.records import SupplementInput, add_member_row, apply_supplement
from webapp.domain.units import found_unit, merge_units
from webapp.models.ledger import MemberEvent
from webapp.models.member import BirthDatePrecision, Member, MemberStatus, Sex
from webapp.models.record import Commendation, Discipline, FamilyRelation, WorkPeriod
from webapp.models.unit import Unit, UnitKind

SYSTEM = Requester.system()
BATCH = 500  # members per transaction

UPPER_UNITS = [
    ("Đảng bộ thành phố Hoa Lư", UnitKind.UPPER_GRASSROOTS_COMMITTEE),
    ("Đảng bộ huyện Gia Viễn", UnitKind.UPPER_GRASSROOTS_COMMITTEE),
    ("Đảng bộ huyện Kim Sơn", UnitKind.UPPER_GRASSROOTS_COMMITTEE),
    ("Đảng bộ Khối các cơ quan tỉnh", UnitKind.UPPER_GRASSROOTS_COMMITTEE),
    ("Đảng bộ Quân sự tỉnh", UnitKind.UPPER_GRASSROOTS_COMMITTEE),
    ("Đảng bộ huyện Yên Mô", UnitKind.UPPER_GRASSROOTS_COMMITTEE),
]
GRASSROOTS_NAMES = [
    "xã Ninh Hải",
    "xã Trường Yên",
    "phường Đông Thành",
    "xã Gia Sinh",
    "xã Gia Hòa",
    "thị trấn Phát Diệm",
    "xã Kim Chính",
    "Sở Giáo dục và Đào tạo",
    "Sở Y tế",
    "Trường THPT Lương Văn Tụy",
    "Bệnh viện Đa khoa tỉnh",
    "xã Yên Phong",
    "xã Yên Thắng",
    "phường Nam Bình",
    "xã Ninh Xuân",
    "Công ty Điện lực",
    "xã Lai Thành",
    "xã Yên Mạc",
]
CELL_NAMES = [
    "thôn Đông",
    "thôn Tây",
    "thôn Nam",
    "thôn Bắc",
    "khối Văn phòng",
    "tổ dân phố 1",
    "tổ dân phố 2",
    "khối Nghiệp vụ",
]
ETHNICITIES = [("Kinh", 90), ("Mường", 6), ("Tày", 1), ("Thái", 1), ("Hoa", 1), ("Dao", 1)]
RELIGIONS = [("Không", 85), ("Công giáo", 11), ("Phật giáo", 4)]
EDUCATION = [("12/12", 80), ("10/10", 12), ("9/12", 5), ("7/10", 3)]
PROFESSIONAL = [
    ("Đại học", 45),
    ("Trung cấp", 15),
    ("Cao đẳng", 10),
    ("Thạc sĩ", 8),
    ("Chưa qua đào tạo", 20),
    ("Tiến sĩ", 2),
]
THEORY = [("Sơ cấp", 45), ("Trung cấp", 35), ("Cao cấp", 8), ("Chưa qua đào tạo", 12)]
OCCUPATIONS = [
    ("Công nhân", 15),
    ("Viên chức trong đơn vị sự nghiệp công lập", 20),
    ("Cán bộ, công chức, người hoạt động không chuyên trách ở cấp xã", 20),
    ("Lãnh đạo, quản lý, nhân viên trong doanh nghiệp", 15),
]
HOME_TOWNS = [
    "Ninh Bình",
    "Nam Định",
    "Hà Nam",
    "Thanh Hóa",
    "Thái Bình",
    "Hà Nội",
    "Nghệ An",
    "Hưng Yên",
    "Hải Dương",
    "Hòa Bình",
]
CITIZEN_PROVINCE_CODE = "037"


def _weighted(rng: random.Random, choices: list[tuple[object, int]]):
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


def _add_years(day: date, years: int) -> date:
    """Same day `years` later; 29 February becomes 1 March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def _random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max((end - start).days, 0)))


def generate_units(session: Session, rng: random.Random, target_cells: int) -> list[Unit]:
    """The province, its upper-grassroots committees, grassroots organisations and cells;
    returns the units that hold members."""
    province = found_unit(
        session,
        SYSTEM,
        Unit(
            code="NB",
            name="Đảng bộ tỉnh Ninh Bình",
            kind=UnitKind.PROVINCIAL_COMMITTEE,
            founded_on=date(1930, 3, 9),
        ),
    )
    holders: list[Unit] = []
    upper_count = min(len(UPPER_UNITS), max(2, target_cells // 8))
    grassroots_per_upper = max(1, round(target_cells / upper_count / 2.5))
    names = iter(GRASSROOTS_NAMES * 1000)
    for upper_index, (upper_name, kind) in enumerate(UPPER_UNITS[:upper_count], start=1):
        upper = found_unit(
            session,
            SYSTEM,
            Unit(
                code=f"NB.{upper_index:02d}",
                name=upper_name,
                kind=kind,
                parent=province,
                founded_on=date(1946, 1, 1),
            ),
        )
        for grassroots_index in range(1, grassroots_per_upper + 1):
            name = next(names)
            code = f"{upper.code}.{grassroots_index:03d}"
            if rng.random() < 0.25:
                cell = Unit(
                    code=code,
                    name=f"Chi bộ {name}",
                    kind=UnitKind.GRASSROOTS_CELL,
                    parent=upper,
                    founded_on=date(1975, 1, 1),
                )
                holders.append(found_unit(session, SYSTEM, cell))
                continue
            grassroots = found_unit(
                session,
                SYSTEM,
                Unit(
                    code=code,
                    name=f"Đảng bộ {name}",
                    kind=UnitKind.GRASSROOTS_COMMITTEE,
                    parent=upper,
                    founded_on=date(1960, 1, 1),
                ),
            )
            for cell_index in range(1, rng.randint(2, 4) + 1):
                cell = Unit(
                    code=f"{code}.{cell_index:02d}",
                    name=f"Chi bộ {CELL_NAMES[(cell_index - 1) % len(CELL_NAMES)]}",
                    kind=UnitKind.CELL,
                    parent=grassroots,
                    founded_on=_random_date(rng, date(1960, 1, 1), date(2015, 12, 31)),
                )
                holders.append(found_unit(session, SYSTEM, cell))
    return holders


def make_member(
    rng: random.Random, faker: Faker, sequence: int, unit: Unit, today: date
) -> tuple[Member, date | None]:
    """The member, and the day their card was issued (None: no card yet)."""
    sex = Sex.FEMALE if rng.random() < 0.38 else Sex.MALE
    family = faker.last_name()
    middle = "Thị" if sex == Sex.FEMALE and rng.random() < 0.6 else faker.middle_name()
    given = faker.first_name_female() if sex == Sex.FEMALE else faker.first_name_male()
    birth_name = " ".join(part for part in (family, middle, given.split()[-1]) if part)
    birth = _random_date(rng, date(1940, 1, 1), today.replace(year=today.year - 19))
    earliest_admission = _add_years(birth, 18) + timedelta(days=1)
    latest_admission = min(today - timedelta(days=30), _add_years(birth, 45))
    admitted = _random_date(rng, earliest_admission, latest_admission)
    official = admitted + timedelta(days=365 + rng.randint(0, 40))
    is_official = official <= today
    status = MemberStatus.OFFICIAL if is_official else MemberStatus.PROBATIONARY
    has_card = is_official and rng.random() < 0.95
    precision = (
        BirthDatePrecision.DAY
        if birth.year > 1950 or rng.random() < 0.7
        else BirthDatePrecision.YEAR
    )
    century_sex_digit = (
        ("0" if sex == Sex.MALE else "1")
        if birth.year < 2000
        else ("2" if sex == Sex.MALE else "3")
    )
    # Cards are handed over a month to half a year after recognition; one recognised
    # more recently still waits for it (and is on the list of members needing a card).
    card_issued_on = official + timedelta(days=rng.randint(30, 200)) if has_card else None
    if card_issued_on is not None and card_issued_on > today:
        card_issued_on = None
    member = Member(
        member_number=f"{sequence:06d}NB",
        birth_name=birth_name,
        name_in_use=birth_name,
        sex=sex,
        birth_date=birth,
        birth_date_precision=precision,
        birthplace=rng.choice(HOME_TOWNS),
        home_town=f"{faker.commune_name() if hasattr(faker, 'commune_name') else 'xã'}, {rng.choice(HOME_TOWNS)}",
        permanent_address=faker.address().replace("\n", ", "),
        current_address=None,
        ethnicity=_weighted(rng, ETHNICITIES),
        religion=_weighted(rng, RELIGIONS),
        citizen_id=f"{CITIZEN_PROVINCE_CODE}{century_sex_digit}{birth.year % 100:02d}{sequence:06d}",
        admitted_on=admitted,
        admitting_cell=unit.name,
        introducer_1=faker.name(),
        introducer_2=faker.name(),
        official_on=official if is_official else None,
        youth_union_on=_random_date(rng, _add_years(birth, 16), admitted)
        if rng.random() < 0.8
        else None,
        status=status,
        unit=unit,
        general_education=_weighted(rng, EDUCATION),
        professional_level=_weighted(rng, PROFESSIONAL),
        political_theory=_weighted(rng, THEORY),
        occupation_at_admission=_weighted(rng, OCCUPATIONS),
        occupation=_weighted(rng, OCCUPATIONS),
        health="Tốt" if rng.random() < 0.9 else "Trung bình",
        veteran=birth.year < 1960 and rng.random() < 0.4,
    )
    return member, card_issued_on


def record_rows(rng: random.Random, faker: Faker, member: Member, today: date) -> list:
    """Pages 3–4: most records are complete; recent admissions often still lack rows
    (the seed article counts 802 one-page records, mostly new members)."""
    rows: list = []
    if (today - member.admitted_on).days < 400 and rng.random() < 0.6:
        return rows
    start = _add_years(member.birth_date, 18 + rng.randint(0, 6))
    rows.append(
        WorkPeriod(
            starts_on=min(start, today),
            description=f"{member.occupation or 'Công tác'} tại {rng.choice(HOME_TOWNS)}",
        )
    )
    rows.extend(
        [
            FamilyRelation(
                relation="Bố",
                full_name=f"{member.birth_name.split()[0]} Văn {faker.first_name_male().split()[-1]}",
                birth_year=member.birth_date.year - rng.randint(20, 35),
                occupation="Làm ruộng",
            ),
            FamilyRelation(
                relation="Mẹ",
                full_name=f"{faker.last_name()} Thị {faker.first_name_female().split()[-1]}",
                birth_year=member.birth_date.year - rng.randint(18, 33),
                occupation="Làm ruộng",
            ),
        ]
    )
    if rng.random() < 0.3:
        rows.append(
            Commendation(
                awarded_on=_random_date(rng, member.admitted_on, today),
                form=rng.choice(
                    [
                        "Giấy khen",
                        "Bằng khen của Thủ tướng Chính phủ",
                        "Huân chương Lao động hạng Ba",
                    ]
                ),
                level="Cấp tỉnh",
                decision_number=f"{rng.randint(100, 999)}/QĐ-UBND",
            )
        )
    if rng.random() < 0.03:
        rows.append(
            Discipline(
                decided_on=_random_date(rng, member.admitted_on, today),
                form=rng.choice(["Khiển trách", "Cảnh cáo"]),
                level="Chi bộ",
                reason="Vi phạm quy định sinh hoạt đảng",
            )
        )
    for row in rows:
        row.member_id = member.id
    return rows


def _history(
    rng: random.Random, member: Member, holders: list[Unit], today: date
) -> list[EventInput]:
    """Movements after the opening events, each dated after the last one and before today."""
    events: list[EventInput] = []
    last = member.official_on or member.admitted_on
    if member.status != MemberStatus.OFFICIAL or (today - last).days < 400:
        return events

    def later(max_days: int = 3650) -> date | None:
        nonlocal last
        if (today - last).days < 60:
            return None
        last = last + timedelta(days=rng.randint(30, min(max_days, (today - last).days - 1)))
        return last

    unit = member.unit
    roll = rng.random()
    if roll < 0.15:  # moved to another cell of the province
        day = later()
        others = [u for u in holders if u.id != unit.id]
        if day and others:
            unit = rng.choice(others)
            events.append(
                EventInput(
                    EventKind.TRANSFER_WITHIN,
                    day,
                    decision_number=f"{rng.randint(1, 300)}-QĐ/ĐU",
                    to_unit_id=unit.id,
                )
            )
    elif roll < 0.20:  # worked elsewhere in the province for a while
        day = later()
        others = [u for u in holders if u.id != unit.id]
        if day and others:
            events.append(
                EventInput(EventKind.TEMPORARY_TRANSFER, day, to_unit_id=rng.choice(others).id)
            )
            back = later(365)
            if back:
                events.append(EventInput(EventKind.TEMPORARY_RETURN, back))
    elif roll < 0.22:  # removed, some re-admitted years later
        day = later()
        if day:
            events.append(
                EventInput(EventKind.REMOVAL, day, decision_number=f"{rng.randint(1, 300)}-QĐ/HU")
            )
            if rng.random() < 0.5:
                again = later()
                if again:
                    events.append(EventInput(EventKind.READMISSION, again, to_unit_id=unit.id))
                    official = later(400) if (today - again).days > 400 else None
                    if official and (official - again).days >= 365:
                        events.append(EventInput(EventKind.OFFICIAL_RECOGNITION, official))
    elif roll < 0.24:  # transferred to another province
        day = later()
        if day:
            events.append(
                EventInput(EventKind.TRANSFER_OUT, day, other_organisation="Đảng bộ tỉnh Thanh Hóa")
            )
            return events
    elif roll < 0.25:
        day = later()
        if day:
            events.append(EventInput(EventKind.EXEMPTION, day, note="Tuổi cao, sức yếu"))
    if member.birth_date.year < 1950 and rng.random() < 0.25:
        day = later()
        if day and not any(e.kind == EventKind.REMOVAL for e in events[-1:]):
            events.append(EventInput(EventKind.DEATH, day))
    return events


def generate_province(
    session: Session,
    *,
    members: int,
    seed: int,
    today: date | None = None,
    card_prefix: str | None = None,
) -> dict[str, int]:
    """Units, members, their ledgers and their cards; every event goes through the
    ledger's rules, every card is a registry row numbered with the instance's prefix
    (CARD_NUMBER_PREFIX), so cards issued later continue the same numbering."""
    today = today or date.today()
    card_prefix = check_prefix(card_prefix or current_app.config["CARD_NUMBER_PREFIX"])
    pattern = current_app.config["MEMBER_NUMBER_PATTERN"]
    rng = random.Random(seed)
    faker = Faker("vi_VN")
    faker.seed_instance(seed)
    with transaction(session):
        holders = generate_units(session, rng, target_cells=max(4, members // 12))
    for first in range(1, members + 1, BATCH):
        with transaction(session):
            for sequence in range(first, min(first + BATCH, members + 1)):
                unit = holders[(sequence * 7919) % len(holders)]
                record, card_issued_on = make_member(rng, faker, sequence, unit, today)
                member = create_member(
                    session, SYSTEM, record, member_number_pattern=pattern, today=today
                )
                if card_issued_on is not None:
                    number = f"{card_prefix}.{sequence:06d}"
                    register_card(session, member, number, card_issued_on)
                for row in record_rows(rng, faker, member, today):
                    add_member_row(session, SYSTEM, row)
                for data in _history(rng, member, holders, today):
                    record_event(session, SYSTEM, member.id, data, today=today)
    supplements = _yearly_supplements(session, rng, today, pattern)
    merged = _merge_two_cells(session, holders, today)
    event_count = session.query(MemberEvent).count()
    unit_count = session.query(Unit).count()
    return {
        "units": unit_count,
        "members": members,
        "events": event_count,
        "supplements": supplements,
        "merges": int(merged),
    }


def _yearly_supplements(session: Session, rng: random.Random, today: date, pattern: str) -> int:
    """Some members declare a higher political-theory level on last year's supplement."""
    declared_on = (
        date(today.year, 1, 15)
        if date(today.year, 1, 15) <= today
        else date(today.year - 1, 12, 15)
    )
    count = 0
    with transaction(session):
        for member_id in session.scalars(
            select(Member.id).where(Member.political_theory == "Sơ cấp").order_by(Member.id)
        ).all():
            if rng.random() >= 0.2:
                continue
            apply_supplement(
                session,
                SYSTEM,
                member_id,
                SupplementInput(
                    year=declared_on.year - 1,
                    declared_on=declared_on,
                    note="Phiếu bổ sung hồ sơ hằng năm",
                    values={"political_theory": "Trung cấp"},
                ),
                member_number_pattern=pattern,
                today=today,
            )
            count += 1
    return count


def _merge_two_cells(session: Session, holders: list[Unit], today: date) -> bool:
    """Two cells of one grassroots committee merged a month ago (2025-style reorganisation)."""
    by_parent: dict[int, list[Unit]] = {}
    for cell in holders:
        if cell.kind == UnitKind.CELL:
            by_parent.setdefault(cell.parent_id, []).append(cell)
    for cells in by_parent.values():
        if len(cells) >= 2:
            merge_units(
                session,
                SYSTEM,
                cells[-1].id,
                cells[0].id,
                effective_on=today - timedelta(days=30),
                decision_number="01-QĐ/ĐU",
                today=today,
            )
            return True
    return False

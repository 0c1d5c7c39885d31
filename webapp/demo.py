"""A realistic, deterministic demo province: units (tree) and members.

Same seed, same province. Names come from Faker's vi_VN locale; dates obey the member
rules (admitted at 18 or older, official a year after admission, no future dates).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from faker import Faker
from sqlalchemy.orm import Session

from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.domain.ledger import EventKind
from webapp.models.member import BirthDatePrecision, Member, MemberStatus, Sex
from webapp.models.unit import Unit, UnitKind

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
RELIGIONS = [(None, 85), ("Công giáo", 11), ("Phật giáo", 4)]
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
CARD_PREFIX = "27"
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
    province = Unit(
        code="NB",
        name="Đảng bộ tỉnh Ninh Bình",
        kind=UnitKind.PROVINCIAL_COMMITTEE,
        founded_on=date(1930, 3, 9),
    )
    session.add(province)
    session.flush()
    holders: list[Unit] = []
    upper_count = min(len(UPPER_UNITS), max(2, target_cells // 8))
    grassroots_per_upper = max(1, round(target_cells / upper_count / 2.5))
    names = iter(GRASSROOTS_NAMES * 1000)
    for upper_index, (upper_name, kind) in enumerate(UPPER_UNITS[:upper_count], start=1):
        upper = Unit(
            code=f"NB.{upper_index:02d}",
            name=upper_name,
            kind=kind,
            parent=province,
            founded_on=date(1946, 1, 1),
        )
        session.add(upper)
        session.flush()
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
                session.add(cell)
                holders.append(cell)
                continue
            grassroots = Unit(
                code=code,
                name=f"Đảng bộ {name}",
                kind=UnitKind.GRASSROOTS_COMMITTEE,
                parent=upper,
                founded_on=date(1960, 1, 1),
            )
            session.add(grassroots)
            session.flush()
            for cell_index in range(1, rng.randint(2, 4) + 1):
                cell = Unit(
                    code=f"{code}.{cell_index:02d}",
                    name=f"Chi bộ {CELL_NAMES[(cell_index - 1) % len(CELL_NAMES)]}",
                    kind=UnitKind.CELL,
                    parent=grassroots,
                    founded_on=_random_date(rng, date(1960, 1, 1), date(2015, 12, 31)),
                )
                session.add(cell)
                holders.append(cell)
    session.flush()
    return holders


def make_member(rng: random.Random, faker: Faker, sequence: int, unit: Unit, today: date) -> Member:
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
    card_number = f"{CARD_PREFIX}.{sequence:06d}" if is_official and rng.random() < 0.95 else None
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
    return Member(
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
        card_number=card_number,
        card_issued_on=official + timedelta(days=rng.randint(30, 200))
        if card_number and official + timedelta(days=200) <= today
        else None,
        status=status,
        unit=unit,
    )


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
    session: Session, *, members: int, seed: int, today: date | None = None
) -> dict[str, int]:
    """Units, members and their ledgers; every event goes through the ledger's rules."""
    today = today or date.today()
    rng = random.Random(seed)
    faker = Faker("vi_VN")
    faker.seed_instance(seed)
    holders = generate_units(session, rng, target_cells=max(4, members // 12))
    event_count = 0
    for sequence in range(1, members + 1):
        member = make_member(rng, faker, sequence, holders[(sequence * 7919) % len(holders)], today)
        session.add(member)
        session.flush()
        open_ledger(session, member, today=today)
        history = _history(rng, member, holders, today)
        for data in history:
            record_event(session, member.id, data, today=today, commit=False)
        event_count += 1 + (member.official_on is not None) + len(history)
        if sequence % 500 == 0:
            session.commit()
    session.commit()
    unit_count = session.query(Unit).count()
    return {"units": unit_count, "members": members, "events": event_count}

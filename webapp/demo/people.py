"""One member's plan: the paper record, the rows of pages 3–4, the ledger's history, the
card and the yearly supplements, all dated so that a clerk would believe them.

A plan is pure data drawn from the member's own random stream (seed and sequence), so
the same seed gives the same province however the members are written (one by one
through the commands, or in bulk; see webapp/demo/bulk.py). Dates obey the rules:
admitted at 18–40, recognised twelve months after admission (unless still within it),
work periods from the end of school to today or retirement, rows never in the future.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from webapp.demo.names import family_name, person_name, weighted
from webapp.demo.shape import (
    AGENCY,
    ARMY,
    ENTERPRISE,
    HEALTH,
    POLICE,
    RESIDENTIAL,
    SCHOOL,
    VILLAGE,
    UnitSpec,
)
from webapp.domain.badge_eligibility import add_months
from webapp.domain.cards import MAX_SERIAL
from webapp.domain.ledger import EventKind
from webapp.models.member import BirthDatePrecision, MemberStatus, Sex

FOUR_PAGE, ONE_PAGE, INCOMPLETE = "four_page", "one_page", "incomplete"
CITIZEN_PROVINCE_CODE = "037"  # Ninh Bình

ETHNICITIES = [
    ("Kinh", 975),
    ("Mường", 15),
    ("Tày", 3),
    ("Thái", 2),
    ("Hoa", 2),
    ("Nùng", 2),
    ("Dao", 1),
]
RELIGIONS = [("Không", 880), ("Công giáo", 100), ("Phật giáo", 20)]
HOME_PROVINCES = [
    ("Ninh Bình", 60),
    ("Nam Định", 20),
    ("Hà Nam", 6),
    ("Thanh Hóa", 5),
    ("Thái Bình", 4),
    ("Hà Nội", 3),
    ("Nghệ An", 2),
]
# (occupation, professional level weights, education 12/12 share) by context.
OCCUPATION_BY_CONTEXT = {
    VILLAGE: [
        ("Nông dân (nông, lâm, ngư nghiệp)", 45),
        ("Hưu trí, nghỉ mất sức", 35),
        ("Người hoạt động không chuyên trách ở thôn, tổ dân phố", 10),
        ("Nghề nghiệp khác", 10),
    ],
    RESIDENTIAL: [
        ("Hưu trí, nghỉ mất sức", 45),
        ("Người hoạt động không chuyên trách ở thôn, tổ dân phố", 15),
        ("Chủ doanh nghiệp tư nhân", 5),
        ("Nghề nghiệp khác", 35),
    ],
    AGENCY: [
        ("Cán bộ, công chức cơ quan nhà nước từ cấp huyện trở lên", 60),
        ("Cán bộ, công chức, người hoạt động không chuyên trách ở cấp xã", 25),
        (
            "Cán bộ, công chức cơ quan Đảng, Mặt trận Tổ quốc, tổ chức chính trị - xã hội "
            "từ cấp huyện trở lên",
            15,
        ),
    ],
    SCHOOL: [("Viên chức trong đơn vị sự nghiệp công lập", 100)],
    HEALTH: [("Viên chức trong đơn vị sự nghiệp công lập", 100)],
    ENTERPRISE: [("Lãnh đạo, quản lý, nhân viên trong doanh nghiệp", 60), ("Công nhân", 40)],
    ARMY: [("Quân đội", 100)],
    POLICE: [("Công an", 100)],
}
WORKPLACE = {
    SCHOOL: ("Giáo viên", "trường"),
    HEALTH: ("Bác sĩ", "bệnh viện"),
}
PROFESSIONAL = {
    "low": [
        ("Chưa qua đào tạo", 55),
        ("Sơ cấp", 15),
        ("Trung cấp", 20),
        ("Cao đẳng", 5),
        ("Đại học", 5),
    ],
    "high": [("Trung cấp", 10), ("Cao đẳng", 10), ("Đại học", 60), ("Thạc sĩ", 17), ("Tiến sĩ", 3)],
}
THEORY = {
    "low": [("Chưa qua đào tạo", 20), ("Sơ cấp", 70), ("Trung cấp", 10)],
    "high": [("Sơ cấp", 40), ("Trung cấp", 45), ("Cao cấp", 13), ("Cử nhân", 2)],
}
FIELDS = {
    SCHOOL: [
        "Sư phạm Toán",
        "Sư phạm Ngữ văn",
        "Sư phạm Tiếng Anh",
        "Giáo dục Tiểu học",
        "Sư phạm Vật lý",
    ],
    HEALTH: ["Y đa khoa", "Điều dưỡng", "Dược", "Y học cổ truyền"],
    AGENCY: ["Luật", "Kinh tế", "Quản lý nhà nước", "Kế toán", "Hành chính học", "Xây dựng Đảng"],
    ENTERPRISE: ["Kỹ thuật điện", "Cơ khí", "Kế toán", "Quản trị kinh doanh", "Công nghệ dệt may"],
    ARMY: ["Chỉ huy tham mưu", "Chính trị", "Hậu cần quân sự"],
    POLICE: ["Điều tra trinh sát", "Cảnh sát nhân dân", "An ninh nhân dân"],
}
UNIVERSITIES = {
    SCHOOL: [
        "Trường Đại học Sư phạm Hà Nội",
        "Trường Cao đẳng Sư phạm Nam Định",
        "Trường Đại học Hoa Lư",
    ],
    HEALTH: [
        "Trường Đại học Y Hà Nội",
        "Trường Đại học Điều dưỡng Nam Định",
        "Trường Đại học Y Thái Bình",
    ],
    AGENCY: [
        "Học viện Hành chính Quốc gia",
        "Trường Đại học Luật Hà Nội",
        "Trường Đại học Kinh tế Quốc dân",
    ],
    ENTERPRISE: [
        "Trường Đại học Bách khoa Hà Nội",
        "Trường Đại học Điện lực",
        "Trường Đại học Kinh tế Quốc dân",
    ],
    ARMY: ["Trường Sĩ quan Lục quân 1", "Học viện Chính trị"],
    POLICE: ["Học viện Cảnh sát nhân dân", "Học viện An ninh nhân dân"],
}
COUNTRIES = [
    ("Trung Quốc", 25),
    ("Lào", 20),
    ("Thái Lan", 15),
    ("Hàn Quốc", 12),
    ("Nhật Bản", 10),
    ("Singapore", 8),
    ("Campuchia", 6),
    ("Liên bang Nga", 4),
]
OTHER_PROVINCES = [
    "Đảng bộ tỉnh Thanh Hóa",
    "Đảng bộ thành phố Hà Nội",
    "Đảng bộ tỉnh Hưng Yên",
    "Đảng bộ tỉnh Phú Thọ",
    "Đảng bộ Quân khu 3",
]


@dataclass
class PlannedEvent:
    kind: str
    day: date
    to_cell: str | None = None  # unit code
    decision_number: str | None = None
    other_organisation: str | None = None
    note: str | None = None


@dataclass
class PlannedRow:
    model: str  # WorkPeriod, TrainingCourse, …
    values: dict[str, Any]


@dataclass
class PlannedSupplement:
    year: int
    declared_on: date
    values: dict[str, Any]


@dataclass
class MemberPlan:
    sequence: int
    cell: str  # code of the cell that admitted the member
    record: dict[str, Any]  # Member columns as the paper form gives them
    rows: list[PlannedRow] = field(default_factory=list)
    history: list[PlannedEvent] = field(default_factory=list)  # after the opening events
    card: tuple[str, date] | None = None  # recorded after the opening events
    supplements: list[PlannedSupplement] = field(default_factory=list)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max((end - start).days, 0)))


def member_rng(seed: int, sequence: int) -> random.Random:
    """The member's own random stream: the same member whatever is generated around it."""
    return random.Random(seed * 1_000_003 + sequence)


@dataclass
class Skeleton:
    sex: str
    birth: date
    admitted: date
    context: str


def skeleton(rng: random.Random, cell: UnitSpec, today: date) -> Skeleton:
    """Sex, birth and admission: the draws everything else is consistent with."""
    context = cell.context or VILLAGE
    female_share = {ARMY: 0.08, POLICE: 0.12, SCHOOL: 0.7, HEALTH: 0.6}.get(context, 0.38)
    sex = Sex.FEMALE if rng.random() < female_share else Sex.MALE
    if context in (VILLAGE, RESIDENTIAL):
        age = int(rng.triangular(22, 92, 62))
    elif context in (ARMY, POLICE):
        age = int(rng.triangular(21, 55, 32))
    else:
        age = int(rng.triangular(23, 60, 42))
    birth = add_years(today, -age) - timedelta(days=rng.randint(1, 364))
    admission_age = int(rng.triangular(18, 40, 24 if context in (ARMY, POLICE) else 28))
    admitted = add_years(birth, admission_age) + timedelta(days=rng.randint(0, 300))
    latest = today - timedelta(days=20)
    if admitted > latest:
        admitted = between(rng, add_years(birth, 18) + timedelta(days=1), latest)
    return Skeleton(sex, birth, admitted, context)


def _decision(rng: random.Random, day: date, body: str) -> str:
    return f"{rng.randint(1, 450)}-QĐ/{body}"


def plan_member(
    seed: int,
    sequence: int,
    cell: UnitSpec,
    cells: list[UnitSpec],
    today: date,
    level: str,
    card_prefix: str,
) -> MemberPlan:
    """The member numbered `sequence` of cell `cell`; `level` is the record's completeness
    (FOUR_PAGE, ONE_PAGE or INCOMPLETE)."""
    rng = member_rng(seed, sequence)
    bone = skeleton(rng, cell, today)
    sex, birth, admitted, context = bone.sex, bone.birth, bone.admitted, bone.context
    family = family_name(rng)
    name = person_name(rng, sex, birth.year, family=family)
    home = weighted(rng, HOME_PROVINCES)
    high = context in (AGENCY, SCHOOL, HEALTH, ARMY, POLICE) or (
        context == ENTERPRISE and rng.random() < 0.6
    )
    grade = "high" if high else "low"
    education = "12/12" if birth.year >= 1965 or high else rng.choice(["10/10", "7/10", "9/10"])
    occupation = weighted(rng, OCCUPATION_BY_CONTEXT[context])
    age_now = today.year - birth.year
    retired_age = 60 if sex == Sex.MALE else 55
    if context in (VILLAGE, RESIDENTIAL) and age_now >= retired_age + 2 and rng.random() < 0.8:
        occupation = "Hưu trí, nghỉ mất sức"
    official_due = add_months(admitted, 12) + timedelta(days=rng.randint(0, 40))
    recognised = official_due <= today
    not_recognised = recognised and rng.random() < 0.006
    century_sex = (
        ("0" if sex == Sex.MALE else "1")
        if birth.year < 2000
        else ("2" if sex == Sex.MALE else "3")
    )
    old = birth.year < 1950
    record: dict[str, Any] = {
        "member_number": f"{sequence:06d}NB" if sequence < 1_000_000 else f"{sequence:010d}",
        "birth_name": name,
        "name_in_use": name,
        "sex": sex,
        "birth_date": birth,
        "birth_date_precision": BirthDatePrecision.YEAR
        if old and rng.random() < 0.3
        else BirthDatePrecision.DAY,
        "birthplace": f"{cell.place}" if rng.random() < 0.6 else home,
        "home_town": cell.place if rng.random() < 0.6 else f"{home}",
        "permanent_address": cell.place,
        "current_address": None,
        "ethnicity": weighted(rng, ETHNICITIES),
        "religion": weighted(rng, RELIGIONS),
        "citizen_id": f"{CITIZEN_PROVINCE_CODE}{century_sex}{birth.year % 100:02d}{sequence % 1_000_000:06d}",
        "admitted_on": admitted,
        "admitting_cell": cell.name,
        "introducer_1": person_name(
            rng, rng.choice([Sex.MALE, Sex.FEMALE]), birth.year - rng.randint(5, 20)
        ),
        "introducer_2": person_name(
            rng, rng.choice([Sex.MALE, Sex.FEMALE]), birth.year - rng.randint(0, 15)
        ),
        "official_on": official_due if recognised and not not_recognised else None,
        "youth_union_on": between(rng, add_years(birth, 16), admitted)
        if rng.random() < 0.85
        else None,
        "status": MemberStatus.OFFICIAL
        if recognised and not not_recognised
        else MemberStatus.PROBATIONARY,
        "general_education": education,
        "professional_level": weighted(rng, PROFESSIONAL[grade]),
        "professional_field": rng.choice(FIELDS.get(context, ["Nông nghiệp", "Kế toán"]))
        if high
        else None,
        "political_theory": weighted(rng, THEORY[grade]),
        "state_management": "Chuyên viên và tương đương"
        if context == AGENCY and rng.random() < 0.6
        else None,
        "it_level": "Ứng dụng CNTT cơ bản" if high and rng.random() < 0.7 else None,
        "occupation_at_admission": weighted(rng, OCCUPATION_BY_CONTEXT[context])
        if context not in (VILLAGE, RESIDENTIAL)
        else "Nông dân (nông, lâm, ngư nghiệp)",
        "occupation": occupation,
        "health": "Tốt" if age_now < 65 else rng.choice(["Tốt", "Trung bình", "Yếu"]),
        "veteran": birth.year < 1960 and sex == Sex.MALE and rng.random() < 0.4,
    }
    if record["occupation_at_admission"] == "Hưu trí, nghỉ mất sức":
        record["occupation_at_admission"] = "Nông dân (nông, lâm, ngư nghiệp)"
    if level == INCOMPLETE:
        # An old paper record copied in part: the introducers are lost.
        record["introducer_2"] = None
    plan = MemberPlan(sequence=sequence, cell=cell.code, record=record)
    if level == FOUR_PAGE:
        plan.rows = _rows(rng, record, context, today, family)
    elif level == ONE_PAGE and rng.random() < 0.5:
        record["health"] = None  # page 4 not yet filled in
        plan.rows = _rows(rng, record, context, today, family)
    for row in plan.rows:  # a course or a trip still going on has no end yet
        if (row.values.get("ends_on") or today) > today:
            row.values["ends_on"] = None
    plan.history = _history(rng, record, cell, cells, today, not_recognised)
    leaves = next(
        (
            e.day
            for e in plan.history
            if e.kind in (EventKind.REMOVAL, EventKind.EXPULSION, EventKind.RESIGNATION)
        ),
        None,
    )
    if record["official_on"] and rng.random() < 0.96:
        issued = record["official_on"] + timedelta(days=rng.randint(30, 240))
        if issued <= today - timedelta(days=10) and (leaves is None or issued < leaves):
            plan.card = (card_number(card_prefix, sequence), issued)
    if _disciplined(plan.history, plan.rows):
        pass
    plan.supplements = _supplements(rng, record, plan.history, today)
    return plan


def card_number(prefix: str, sequence: int) -> str:
    """The demo card number of the member numbered `sequence`: the prefix's serials up to
    999,999, then the next prefixes (a national data set spans several provinces' codes;
    one prefix holds 999,999 cards)."""
    block, serial = divmod(sequence - 1, MAX_SERIAL)
    code = int(prefix) + block
    if code > 99:
        raise ValueError(f"{sequence} members need more card prefixes than {prefix}..99")
    return f"{code:02d}.{serial + 1:06d}"


def _disciplined(history, rows) -> bool:
    return any(r.model == "Discipline" for r in rows)


def _rows(
    rng: random.Random, record: dict, context: str, today: date, family: str
) -> list[PlannedRow]:
    birth, admitted, sex = record["birth_date"], record["admitted_on"], record["sex"]
    rows: list[PlannedRow] = []
    high = record["professional_level"] in ("Đại học", "Thạc sĩ", "Tiến sĩ", "Cao đẳng")
    retired_age = 60 if sex == Sex.MALE else 55
    retires = add_years(birth, retired_age)
    # Work history: school, then one to four posts, the last open unless retired.
    start = add_years(birth, 18) + timedelta(days=rng.randint(200, 300))
    if high:
        school_end = add_years(start, 4)
        university = rng.choice(UNIVERSITIES.get(context, ["Trường Đại học Nông nghiệp Hà Nội"]))
        rows.append(
            PlannedRow(
                "WorkPeriod",
                {
                    "starts_on": start,
                    "ends_on": min(school_end, today),
                    "description": f"Sinh viên {university}",
                },
            )
        )
        rows.append(
            PlannedRow(
                "TrainingCourse",
                {
                    "starts_on": start,
                    "ends_on": min(school_end, today),
                    "institution": university,
                    "field": record["professional_field"] or "Kinh tế",
                    "study_form": "Chính quy",
                    "qualification": record["professional_level"],
                },
            )
        )
        start = school_end + timedelta(days=rng.randint(30, 200))
    posts = rng.randint(1, 3)
    end_of_work = min(today, retires) if record["occupation"] == "Hưu trí, nghỉ mất sức" else today
    place = record["permanent_address"] or "Ninh Bình"
    job = {
        VILLAGE: "Làm ruộng tại",
        RESIDENTIAL: "Công tác tại",
        AGENCY: "Chuyên viên",
        SCHOOL: "Giáo viên",
        HEALTH: "Bác sĩ" if high else "Điều dưỡng",
        ENTERPRISE: "Kỹ sư" if high else "Công nhân",
        ARMY: "Sĩ quan",
        POLICE: "Cán bộ",
    }[context]
    if start < end_of_work:
        cuts = sorted(between(rng, start, end_of_work) for _ in range(posts - 1))
        bounds = [start, *cuts, end_of_work]
        for index in range(posts):
            begins, ends = bounds[index], bounds[index + 1]
            last = index == posts - 1
            rows.append(
                PlannedRow(
                    "WorkPeriod",
                    {
                        "starts_on": begins,
                        "ends_on": None if last and end_of_work == today else ends,
                        "description": f"{job} {place}"
                        if index < posts - 1 or not last
                        else f"{job} {place}",
                    },
                )
            )
        if end_of_work < today:
            rows.append(
                PlannedRow(
                    "WorkPeriod",
                    {
                        "starts_on": end_of_work,
                        "ends_on": None,
                        "description": f"Nghỉ hưu tại {place}",
                    },
                )
            )
    # Political theory courses after admission.
    theory = record["political_theory"]
    if theory in ("Trung cấp", "Cao cấp", "Cử nhân"):
        begins = between(rng, admitted, max(admitted, today - timedelta(days=400)))
        rows.append(
            PlannedRow(
                "TrainingCourse",
                {
                    "starts_on": begins,
                    "ends_on": begins + timedelta(days=rng.randint(180, 540)),
                    "institution": "Học viện Chính trị quốc gia Hồ Chí Minh"
                    if theory != "Trung cấp"
                    else "Trường Chính trị tỉnh",
                    "field": "Lý luận chính trị",
                    "study_form": rng.choice(["Tập trung", "Tại chức"]),
                    "qualification": f"{theory} lý luận chính trị",
                },
            )
        )
    # Commendations and discipline after admission.
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        rows.append(
            PlannedRow(
                "Commendation",
                {
                    "awarded_on": between(rng, admitted, today),
                    "form": weighted(
                        rng,
                        [
                            ("Giấy khen", 60),
                            ("Bằng khen cấp bộ, ban, ngành, tỉnh, đoàn thể trung ương", 30),
                            ("Bằng khen của Thủ tướng Chính phủ", 7),
                            ("Huân chương Lao động hạng Ba", 3),
                        ],
                    ),
                    "level": rng.choice(
                        ["Ủy ban nhân dân tỉnh", "Ủy ban nhân dân huyện", "Tỉnh ủy", "Huyện ủy"]
                    ),
                    "decision_number": f"{rng.randint(100, 3999)}/QĐ-UBND",
                    "reason": "Hoàn thành xuất sắc nhiệm vụ",
                },
            )
        )
    if rng.random() < 0.03:
        rows.append(
            PlannedRow(
                "Discipline",
                {
                    "decided_on": between(rng, admitted + timedelta(days=30), today),
                    "form": weighted(
                        rng, [("Khiển trách", 70), ("Cảnh cáo", 25), ("Cách chức", 5)]
                    ),
                    "level": "Chi bộ",
                    "decision_number": f"{rng.randint(1, 99)}-QĐ/ĐU",
                    "reason": rng.choice(
                        [
                            "Vi phạm quy định sinh hoạt đảng",
                            "Vi phạm quy định về đóng đảng phí",
                            "Thiếu trách nhiệm trong công tác",
                        ]
                    ),
                },
            )
        )
    if context in (AGENCY, ENTERPRISE, HEALTH, SCHOOL, POLICE) and rng.random() < 0.25:
        earliest = max(date(1995, 1, 1), add_years(birth, 22))
        if earliest < today - timedelta(days=30):
            begins = between(rng, earliest, today - timedelta(days=30))
            rows.append(
                PlannedRow(
                    "TripAbroad",
                    {
                        "starts_on": begins,
                        "ends_on": min(today, begins + timedelta(days=rng.randint(3, 20))),
                        "country": weighted(rng, COUNTRIES),
                        "purpose": rng.choice(
                            ["Công tác", "Học tập, khảo sát", "Du lịch", "Thăm thân"]
                        ),
                    },
                )
            )
    # Family: parents, spouse, children.
    father_year = birth.year - rng.randint(22, 38)
    rows.append(
        PlannedRow(
            "FamilyRelation",
            {
                "relation": "Bố",
                "full_name": person_name(rng, Sex.MALE, father_year, family=family),
                "birth_year": father_year,
                "occupation": "Làm ruộng" if father_year < 1960 else "Công nhân",
                "notes": None,
            },
        )
    )
    mother_year = birth.year - rng.randint(20, 35)
    rows.append(
        PlannedRow(
            "FamilyRelation",
            {
                "relation": "Mẹ",
                "full_name": person_name(
                    rng, Sex.FEMALE, mother_year, family=family_name(rng, other_than=family)
                ),
                "birth_year": mother_year,
                "occupation": "Làm ruộng",
                "notes": None,
            },
        )
    )
    age = today.year - birth.year
    if age >= 24 and rng.random() < 0.9:
        spouse_sex = Sex.FEMALE if sex == Sex.MALE else Sex.MALE
        spouse_year = birth.year + rng.randint(-3, 5) * (1 if sex == Sex.MALE else -1)
        spouse_family = family_name(rng, other_than=family)
        rows.append(
            PlannedRow(
                "FamilyRelation",
                {
                    "relation": "Vợ" if sex == Sex.MALE else "Chồng",
                    "full_name": person_name(rng, spouse_sex, spouse_year, family=spouse_family),
                    "birth_year": spouse_year,
                    "occupation": rng.choice(["Giáo viên", "Làm ruộng", "Kinh doanh", "Công nhân"]),
                    "notes": None,
                },
            )
        )
        children_family = family if sex == Sex.MALE else spouse_family
        for _ in range(rng.randint(0, 2) if age >= 27 else 0):
            child_year = min(today.year - 1, birth.year + rng.randint(24, 38))
            child_sex = rng.choice([Sex.MALE, Sex.FEMALE])
            rows.append(
                PlannedRow(
                    "FamilyRelation",
                    {
                        "relation": "Con",
                        "full_name": person_name(
                            rng, child_sex, child_year, family=children_family
                        ),
                        "birth_year": child_year,
                        "occupation": "Học sinh" if today.year - child_year < 18 else "Tự do",
                        "notes": None,
                    },
                )
            )
    return rows


def _history(
    rng: random.Random,
    record: dict,
    cell: UnitSpec,
    cells: list[UnitSpec],
    today: date,
    not_recognised: bool,
) -> list[PlannedEvent]:
    """Movements after the opening events (admission, recognition), in date order."""
    events: list[PlannedEvent] = []
    admitted, birth = record["admitted_on"], record["birth_date"]
    if not_recognised:
        day = add_months(admitted, 12) + timedelta(days=rng.randint(0, 40))
        events.append(
            PlannedEvent(
                EventKind.NOT_RECOGNISED,
                day,
                decision_number=_decision(rng, day, "HU"),
                note="Không đủ tư cách đảng viên chính thức",
            )
        )
        return events
    official = record["official_on"]
    if official is None or (today - official).days < 400:
        return events
    last = official
    current = cell.code

    def later(low: int = 60, high: int = 3650) -> date | None:
        nonlocal last
        room = (today - last).days - 1
        if room < low:
            return None
        last = last + timedelta(days=rng.randint(low, min(high, room)))
        return last

    roll = rng.random()
    if roll < 0.14:  # moved to another cell of the province (new job, new home)
        day = later()
        others = [c for c in cells if c.code != current and c.context == cell.context] or [
            c for c in cells if c.code != current
        ]
        if day and others:
            current = rng.choice(others).code
            events.append(
                PlannedEvent(
                    EventKind.TRANSFER_WITHIN,
                    day,
                    to_cell=current,
                    decision_number=_decision(rng, day, "HU"),
                )
            )
    elif roll < 0.19:  # worked elsewhere for some months
        day = later()
        others = [c for c in cells if c.code != current]
        if day and others:
            events.append(
                PlannedEvent(
                    EventKind.TEMPORARY_TRANSFER,
                    day,
                    to_cell=rng.choice(others).code,
                    note="Đi học tập trung",
                )
            )
            back = later(90, 365)
            if back:
                events.append(PlannedEvent(EventKind.TEMPORARY_RETURN, back))
    elif roll < 0.21:  # removed from the rolls; half are re-admitted and recognised again
        day = later()
        if day:
            events.append(
                PlannedEvent(
                    EventKind.REMOVAL,
                    day,
                    decision_number=_decision(rng, day, "HU"),
                    note="Bỏ sinh hoạt đảng quá thời hạn",
                )
            )
            if rng.random() < 0.5:
                again = later(730, 2900)
                if again:
                    events.append(
                        PlannedEvent(
                            EventKind.READMISSION,
                            again,
                            to_cell=current,
                            decision_number=_decision(rng, again, "HU"),
                        )
                    )
                    due = add_months(again, 12) + timedelta(days=rng.randint(0, 40))
                    if due <= today:
                        last = due
                        events.append(
                            PlannedEvent(
                                EventKind.OFFICIAL_RECOGNITION,
                                due,
                                decision_number=_decision(rng, due, "HU"),
                            )
                        )
            return events
    elif roll < 0.24:  # transferred to another province; some come back years later
        day = later()
        if day:
            events.append(
                PlannedEvent(
                    EventKind.TRANSFER_OUT, day, other_organisation=rng.choice(OTHER_PROVINCES)
                )
            )
            if rng.random() < 0.4:
                back = later(365, 2500)
                if back:
                    events.append(
                        PlannedEvent(
                            EventKind.TRANSFER_IN, back, to_cell=current, note="Trở về địa phương"
                        )
                    )
                    return events
            return events
    elif roll < 0.242:  # resigned
        day = later()
        if day:
            events.append(
                PlannedEvent(EventKind.RESIGNATION, day, decision_number=_decision(rng, day, "HU"))
            )
            return events
    # Old members: exempted from activities, and many have died.
    age = (today - birth).days // 365
    if age >= 75 and rng.random() < 0.3:
        day = later(30, 1800)
        if day and (day - birth).days // 365 >= 70:
            events.append(PlannedEvent(EventKind.EXEMPTION, day, note="Tuổi cao, sức yếu"))
    if age >= 68 and rng.random() < min(0.5, (age - 60) / 60):
        earliest = max(last + timedelta(days=30), add_years(birth, 65))
        if earliest < today - timedelta(days=5):
            last = between(rng, earliest, today - timedelta(days=5))
            events.append(PlannedEvent(EventKind.DEATH, last, note="Từ trần"))
    return events


def _supplements(
    rng: random.Random, record: dict, history: list[PlannedEvent], today: date
) -> list[PlannedSupplement]:
    """The yearly supplement of last year for members still active: a higher theory level,
    a new occupation or a new address."""
    if record["status"] != MemberStatus.OFFICIAL or history or rng.random() > 0.25:
        return []
    declared = (
        date(today.year, 1, 15)
        if date(today.year, 1, 15) <= today
        else date(today.year - 1, 12, 15)
    )
    values: dict[str, Any] = {}
    if record["political_theory"] == "Sơ cấp":
        values["political_theory"] = "Trung cấp"
    elif (
        record["occupation"] != "Hưu trí, nghỉ mất sức"
        and (today - record["birth_date"]).days > 60 * 365
    ):
        values["occupation"] = "Hưu trí, nghỉ mất sức"
    else:
        values["current_address"] = record["permanent_address"]
    return [PlannedSupplement(declared.year - 1, declared, values)]

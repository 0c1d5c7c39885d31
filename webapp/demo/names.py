"""Vietnamese personal names as they are built: family name + middle name + given name.

The middle name carries the sex (Văn, Đức, Quang … for men; Thị, Ngọc, Thu … for women),
the given name too; the family name is the father's. Frequencies roughly follow the
surname shares of the northern delta (Nguyễn about a third; Đinh, Mai, Vũ common in Ninh
Bình and Nam Định). No part repeats another (no "Mai Mai Bảo Anh", no "Minh Minh").
"""

from __future__ import annotations

import random

from webapp.models.member import Sex

FAMILY_NAMES: list[tuple[str, int]] = [
    ("Nguyễn", 330),
    ("Trần", 110),
    ("Lê", 80),
    ("Phạm", 70),
    ("Vũ", 50),
    ("Hoàng", 40),
    ("Đinh", 35),
    ("Bùi", 30),
    ("Đỗ", 30),
    ("Mai", 25),
    ("Đặng", 25),
    ("Ngô", 20),
    ("Phan", 18),
    ("Trịnh", 15),
    ("Đào", 12),
    ("Lương", 10),
    ("Dương", 10),
    ("Hà", 8),
    ("Tạ", 8),
    ("Đoàn", 8),
    ("Cao", 6),
    ("Lại", 5),
    ("Tống", 5),
    ("Chu", 4),
    ("Lưu", 4),
    ("Quách", 3),
]
MALE_MIDDLE: list[tuple[str, int]] = [
    ("Văn", 300),
    ("Đức", 60),
    ("Đình", 45),
    ("Quang", 45),
    ("Minh", 45),
    ("Hữu", 40),
    ("Xuân", 30),
    ("Công", 30),
    ("Thế", 25),
    ("Trọng", 25),
    ("Mạnh", 20),
    ("Tiến", 20),
    ("Thanh", 20),
    ("Ngọc", 15),
    ("Duy", 15),
    ("Việt", 12),
    ("Huy", 10),
    ("Bá", 10),
]
FEMALE_MIDDLE: list[tuple[str, int]] = [
    ("Thị", 400),
    ("Ngọc", 35),
    ("Thu", 30),
    ("Thanh", 30),
    ("Thùy", 25),
    ("Hồng", 20),
    ("Kim", 20),
    ("Phương", 20),
    ("Minh", 18),
    ("Bích", 12),
    ("Diệu", 10),
    ("Hoài", 10),
    ("Khánh", 10),
    ("Mai", 10),
    ("Quỳnh", 10),
]
MALE_GIVEN = [
    "Hùng",
    "Dũng",
    "Tuấn",
    "Hải",
    "Nam",
    "Sơn",
    "Thắng",
    "Long",
    "Cường",
    "Hưng",
    "Thành",
    "Trung",
    "Hiếu",
    "Phong",
    "Quân",
    "Bình",
    "Đạt",
    "Khánh",
    "Toàn",
    "Tùng",
    "Kiên",
    "Hoàng",
    "Vinh",
    "Thịnh",
    "Lâm",
    "Tài",
    "Tâm",
    "Phúc",
    "Huy",
    "Lợi",
    "Nghĩa",
    "Hòa",
    "Chiến",
    "Thái",
    "Việt",
    "Bảo",
    "Khôi",
    "Tiến",
    "Trọng",
    "Lộc",
    "Hậu",
    "Quyết",
    "Thông",
    "Tú",
    "Hiệp",
    "Luân",
    "Định",
    "Chính",
    "Khải",
]
FEMALE_GIVEN = [
    "Hương",
    "Lan",
    "Hoa",
    "Hằng",
    "Thảo",
    "Linh",
    "Trang",
    "Nga",
    "Huyền",
    "Hà",
    "Nhung",
    "Phương",
    "Thủy",
    "Yến",
    "Dung",
    "Loan",
    "Hạnh",
    "Liên",
    "Oanh",
    "Thúy",
    "Vân",
    "Quyên",
    "Giang",
    "Hiền",
    "Ly",
    "Chi",
    "Nhàn",
    "Xuân",
    "Quỳnh",
    "Trinh",
    "Diệp",
    "My",
    "Uyên",
    "Ánh",
    "Duyên",
    "Hồng",
    "Tuyết",
    "Lý",
    "Huệ",
    "Nguyệt",
    "Thơ",
    "Trâm",
    "Vy",
    "Ngân",
    "Hạnh",
    "Thanh",
    "Mai",
]
# Older women were nearly all "Thị"; the other middle names spread from the 1970s on.
OLD_FEMALE_MIDDLE = [("Thị", 95), ("Thu", 2), ("Ngọc", 2), ("Hồng", 1)]
OLD_MALE_MIDDLE = [("Văn", 70), ("Đức", 8), ("Đình", 8), ("Xuân", 5), ("Hữu", 5), ("Bá", 4)]


def weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


def family_name(rng: random.Random, *, other_than: str | None = None) -> str:
    while True:
        name = weighted(rng, FAMILY_NAMES)
        if name != other_than:
            return name


def person_name(rng: random.Random, sex: str, birth_year: int, *, family: str | None = None) -> str:
    """Family + middle + given name for a person of `sex` born in `birth_year`."""
    family = family or family_name(rng)
    old = birth_year < 1965
    if sex == Sex.FEMALE:
        middles, given_names = (OLD_FEMALE_MIDDLE if old else FEMALE_MIDDLE), FEMALE_GIVEN
    else:
        middles, given_names = (OLD_MALE_MIDDLE if old else MALE_MIDDLE), MALE_GIVEN
    while True:
        middle = weighted(rng, middles)
        given = rng.choice(given_names)
        if len({family, middle, given}) == 3:
            return f"{family} {middle} {given}"


def is_female_middle(name: str) -> bool:
    """Whether the middle name is one only women carry ("Thị" and the other female-only ones)."""
    parts = name.split()
    female_only = {m for m, _ in FEMALE_MIDDLE} - {m for m, _ in MALE_MIDDLE}
    return len(parts) >= 3 and parts[1] in female_only


def is_male_middle(name: str) -> bool:
    parts = name.split()
    male_only = {m for m, _ in MALE_MIDDLE + OLD_MALE_MIDDLE} - {m for m, _ in FEMALE_MIDDLE}
    return len(parts) >= 3 and parts[1] in male_only

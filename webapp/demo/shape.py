"""The organisation tree of the demo: which units exist, under which parent, with names
and kinds that fit it (DESIGN §2).

Communes, towns and wards (*xã, thị trấn, phường*) are grassroots committees whose cells
are villages and residential groups (*Chi bộ thôn …, xóm …, tổ dân phố …*) plus the
commune's own office, school and police cells; agencies, enterprises, the army and the
police hold cells of their departments (*Chi bộ phòng …, Chi bộ Văn phòng …*). Each cell
carries a `context` that the member generator reads (a village cell has farmers and
retirees, an agency cell civil servants).

The province preset follows the seed article (Nam Định, 2012, now part of Ninh Bình):
10 district/city committees and 6 directly affiliated ones, of which 2 bloc committees,
1,050 grassroots organisations, and the 2025 reform that ended the district level
(districts' communes merged into larger communes directly under the province).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from webapp.models.unit import UnitKind

REFORM_DAY = date(2025, 7, 1)

# Contexts of member-holding cells (what kind of people they hold).
VILLAGE, RESIDENTIAL, AGENCY, SCHOOL, HEALTH, ENTERPRISE, ARMY, POLICE = (
    "village",
    "residential",
    "agency",
    "school",
    "health",
    "enterprise",
    "army",
    "police",
)
# Relative size of a cell by context (village cells are the big ones).
CELL_WEIGHT = {
    VILLAGE: 1.6,
    RESIDENTIAL: 1.4,
    AGENCY: 0.6,
    SCHOOL: 0.7,
    HEALTH: 0.8,
    ENTERPRISE: 0.7,
    ARMY: 0.7,
    POLICE: 0.7,
}


@dataclass
class UnitSpec:
    code: str
    name: str
    kind: str
    parent: str | None  # parent's code
    founded_on: date
    context: str | None = None  # for member-holding units
    place: str = ""  # commune or district the unit is in (addresses, home towns)
    group: str = ""  # "commune", "agency" … of a grassroots committee


@dataclass
class Reform:
    """The 2025 reorganisation: new communes, which old ones merge into each, what moves
    under the province, which districts end."""

    new_units: list[UnitSpec] = field(default_factory=list)
    merges: list[tuple[str, str]] = field(default_factory=list)  # (absorbed, into)
    moves: list[tuple[str, str, str]] = field(default_factory=list)  # (unit, new parent, kind)
    ended: list[str] = field(default_factory=list)  # districts merged into the province


@dataclass
class Tree:
    units: list[UnitSpec]
    reform: Reform
    province_place: str

    def holders(self) -> list[UnitSpec]:
        return [u for u in self.units if u.kind in (UnitKind.CELL, UnitKind.GRASSROOTS_CELL)]


# The ten districts of the seed province, with the first syllables of their communes.
DISTRICTS = [
    ("thành phố", "Nam Định", None),
    ("huyện", "Mỹ Lộc", ["Mỹ"]),
    ("huyện", "Vụ Bản", ["Liên", "Kim", "Đại", "Tân", "Thành", "Hiển", "Cộng", "Trung", "Vĩnh"]),
    ("huyện", "Ý Yên", ["Yên"]),
    ("huyện", "Nam Trực", ["Nam"]),
    ("huyện", "Trực Ninh", ["Trực"]),
    ("huyện", "Xuân Trường", ["Xuân"]),
    ("huyện", "Giao Thủy", ["Giao"]),
    ("huyện", "Hải Hậu", ["Hải"]),
    ("huyện", "Nghĩa Hưng", ["Nghĩa"]),
]
SMALL_DISTRICTS = [
    ("thành phố", "Hoa Lư", None),
    ("huyện", "Gia Viễn", ["Gia"]),
    ("huyện", "Kim Sơn", ["Kim"]),
]
SUFFIXES = [
    "An",
    "Bắc",
    "Bình",
    "Châu",
    "Chính",
    "Cường",
    "Đông",
    "Hà",
    "Hải",
    "Hòa",
    "Hùng",
    "Hưng",
    "Khang",
    "Lạc",
    "Lâm",
    "Lợi",
    "Long",
    "Minh",
    "Nam",
    "Nghĩa",
    "Phong",
    "Phú",
    "Phúc",
    "Quang",
    "Sơn",
    "Tân",
    "Thắng",
    "Thành",
    "Thanh",
    "Thịnh",
    "Thuận",
    "Tiến",
    "Trung",
    "Vinh",
    "Xuân",
    "Đạo",
    "Điền",
    "Hồng",
    "Lộc",
    "Mỹ",
    "Ninh",
    "Phương",
    "Thái",
    "Tây",
    "Thượng",
]
WARD_NAMES = [
    "Trần Hưng Đạo",
    "Vị Xuyên",
    "Lộc Hạ",
    "Năng Tĩnh",
    "Trần Tế Xương",
    "Ngô Quyền",
    "Bà Triệu",
    "Nguyễn Du",
    "Quang Trung",
    "Trường Thi",
    "Văn Miếu",
    "Thống Nhất",
    "Cửa Bắc",
    "Cửa Nam",
    "Lộc Vượng",
    "Mỹ Xá",
    "Thanh Bình",
    "Đông Thành",
    "Nam Bình",
    "Bích Đào",
    "Tân Thành",
    "Ninh Khánh",
    "Ninh Phong",
    "Vân Giang",
]
VILLAGE_WORDS = [
    "Đông",
    "Tây",
    "Nam",
    "Bắc",
    "Thượng",
    "Hạ",
    "Trung",
    "Đông Thượng",
    "Tây Hạ",
    "Phú Lộc",
    "An Cư",
    "Hòa Bình",
    "Tân Lập",
    "Đồng Tâm",
    "Quyết Thắng",
    "Thống Nhất",
    "Đoàn Kết",
    "Bình Minh",
    "Văn Lãng",
    "Phúc Hải",
    "Ninh Cơ",
    "Lạc Thiện",
]
DISTRICT_AGENCY_CELLS = [
    "Chi bộ Văn phòng HĐND và UBND",
    "Chi bộ Phòng Tài chính - Kế hoạch",
    "Chi bộ Phòng Nội vụ",
    "Chi bộ Phòng Giáo dục và Đào tạo",
    "Chi bộ Phòng Tài nguyên và Môi trường",
    "Chi bộ Phòng Nông nghiệp và Phát triển nông thôn",
    "Chi bộ Phòng Văn hóa và Thông tin",
    "Chi bộ Phòng Lao động - Thương binh và Xã hội",
    "Chi bộ Phòng Kinh tế và Hạ tầng",
    "Chi bộ Thanh tra huyện",
]
POLICE_CELLS = [
    "Chi bộ Đội Cảnh sát giao thông",
    "Chi bộ Đội Cảnh sát hình sự",
    "Chi bộ Đội An ninh",
    "Chi bộ Đội Tổng hợp",
    "Chi bộ Đội Cảnh sát quản lý hành chính",
]
ARMY_CELLS = [
    "Chi bộ Ban Tham mưu",
    "Chi bộ Ban Chính trị",
    "Chi bộ Ban Hậu cần - Kỹ thuật",
    "Chi bộ Văn phòng Bộ Chỉ huy",
]
DISTRICT_GRASSROOTS_CELLS = [
    ("Chi bộ Trung tâm Y tế {d}", HEALTH),
    ("Chi bộ Chi cục Thuế {d}", AGENCY),
    ("Chi bộ Kho bạc Nhà nước {d}", AGENCY),
    ("Chi bộ Bảo hiểm xã hội {d}", AGENCY),
    ("Chi bộ Ngân hàng Chính sách xã hội {d}", AGENCY),
    ("Chi bộ Trung tâm Văn hóa - Thể thao {d}", AGENCY),
    ("Chi bộ Trường THPT {d} A", SCHOOL),
    ("Chi bộ Trường THPT {d} B", SCHOOL),
    ("Chi bộ Trường Trung cấp nghề {d}", SCHOOL),
    ("Chi bộ Điện lực {d}", ENTERPRISE),
    ("Chi bộ Viện Kiểm sát nhân dân {d}", AGENCY),
    ("Chi bộ Tòa án nhân dân {d}", AGENCY),
    ("Chi bộ Chi cục Thi hành án dân sự {d}", AGENCY),
    ("Chi bộ Ủy ban Mặt trận Tổ quốc và các đoàn thể {d}", AGENCY),
    ("Chi bộ Hạt Kiểm lâm {d}", AGENCY),
]
DEPARTMENTS = [
    "Sở Y tế",
    "Sở Giáo dục và Đào tạo",
    "Sở Tài chính",
    "Sở Nội vụ",
    "Sở Tư pháp",
    "Sở Xây dựng",
    "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường",
    "Sở Văn hóa, Thể thao và Du lịch",
    "Sở Khoa học và Công nghệ",
    "Văn phòng Ủy ban nhân dân tỉnh",
    "Thanh tra tỉnh",
    "Văn phòng Tỉnh ủy",
    "Ban Tổ chức Tỉnh ủy",
    "Báo và Phát thanh, Truyền hình tỉnh",
    "Kho bạc Nhà nước khu vực",
    "Cục Thuế tỉnh",
    "Bảo hiểm xã hội tỉnh",
]
DEPARTMENT_CELLS = [
    "Chi bộ Văn phòng",
    "Chi bộ Phòng Kế hoạch - Tài chính",
    "Chi bộ Phòng Tổ chức cán bộ",
    "Chi bộ Thanh tra",
    "Chi bộ Phòng Nghiệp vụ",
    "Chi bộ Phòng Pháp chế",
    "Chi bộ Phòng Tổng hợp",
]
PROVINCE_GRASSROOTS_CELLS = [
    ("Chi bộ Trường THPT chuyên Lê Hồng Phong", SCHOOL),
    ("Chi bộ Trường THPT Trần Hưng Đạo", SCHOOL),
    ("Chi bộ Trường THPT Nguyễn Khuyến", SCHOOL),
    ("Chi bộ Trường Cao đẳng Sư phạm", SCHOOL),
    ("Chi bộ Ban Dân tộc tỉnh", AGENCY),
    ("Chi bộ Hội Nông dân tỉnh", AGENCY),
    ("Chi bộ Hội Liên hiệp Phụ nữ tỉnh", AGENCY),
    ("Chi bộ Tỉnh đoàn", AGENCY),
    ("Chi bộ Liên đoàn Lao động tỉnh", AGENCY),
    ("Chi bộ Bệnh viện Mắt tỉnh", HEALTH),
    ("Chi bộ Bệnh viện Y học cổ truyền tỉnh", HEALTH),
    ("Chi bộ Trung tâm Kiểm soát bệnh tật tỉnh", HEALTH),
    ("Chi bộ Thư viện tỉnh", AGENCY),
    ("Chi bộ Bảo tàng tỉnh", AGENCY),
]
HOSPITAL_CELLS = [
    "Chi bộ khoa Nội",
    "Chi bộ khoa Ngoại",
    "Chi bộ khoa Sản",
    "Chi bộ khoa Nhi",
    "Chi bộ khoa Hồi sức cấp cứu",
    "Chi bộ Phòng Kế hoạch tổng hợp",
]
ENTERPRISES = [
    "Công ty Điện lực",
    "Công ty cổ phần Cấp nước",
    "Công ty Xăng dầu",
    "Tổng công ty Dệt may Nam Định",
    "Công ty cổ phần May Sông Hồng",
    "Công ty TNHH Một thành viên Khai thác công trình thủy lợi",
    "Viễn thông tỉnh",
    "Bưu điện tỉnh",
    "Ngân hàng Nông nghiệp và Phát triển nông thôn chi nhánh tỉnh",
    "Ngân hàng Công thương chi nhánh tỉnh",
]
ENTERPRISE_CELLS = [
    "Chi bộ Văn phòng công ty",
    "Chi bộ phòng Kỹ thuật",
    "Chi bộ phòng Kinh doanh",
    "Chi bộ Phân xưởng sản xuất",
    "Chi bộ phòng Tài chính - Kế toán",
]
ENTERPRISE_WORDS = [
    "Dệt",
    "May",
    "Cơ khí",
    "Xây dựng",
    "Vận tải",
    "Thương mại",
    "Chế biến nông sản",
    "Vật liệu xây dựng",
    "Thủy sản",
    "Dược phẩm",
    "Giống cây trồng",
    "Môi trường đô thị",
    "Sữa",
    "Giấy",
    "Bia",
]
ENTERPRISE_PLACES = [
    "Sơn Nam",
    "Thành Nam",
    "Vị Hoàng",
    "Hồng Hà",
    "Thiên Trường",
    "Phủ Giày",
    "Đông A",
    "Ý Yên",
    "Hải Hậu",
    "Giao Thủy",
    "Nghĩa Hưng",
]
BORDER_POSTS = ["Giao Thiện", "Hải Lý", "Hải Thịnh", "Nghĩa Hưng", "Cửa Đáy", "Ba Lạt"]


@dataclass(frozen=True)
class Shape:
    """How large a tree to build."""

    districts: list[tuple[str, str, list[str] | None]]
    communes_per_district: int
    district_others: int  # non-commune grassroots organisations per district
    bloc_agencies: int
    bloc_enterprises: int
    army: int
    police: int
    border: int
    villages: tuple[int, int]  # village cells per commune (min, max)
    affiliated_extra: bool  # the province preset's 6 affiliated committees (else 3)


def small_shape(members: int) -> Shape:
    """The default demo: three districts and three affiliated committees, about one
    cell per 12 members."""
    scale = max(1, round(members / 300))
    return Shape(
        districts=SMALL_DISTRICTS,
        communes_per_district=1 + scale,
        district_others=1 + scale,
        bloc_agencies=1 + scale,
        bloc_enterprises=1,
        army=1,
        police=0,
        border=0,
        villages=(2, 4),
        affiliated_extra=False,
    )


def province_shape(members: int) -> Shape:
    """The seed's province (99,300 members, 1,050 grassroots organisations); smaller
    `members` scale the number of grassroots organisations, not the 16 upper committees."""
    ratio = members / 99_300
    # 229 communes; 1,050 grassroots in all: 10 × (23 + 50) + 150 + 120 + 20 + 20 + 10.
    return Shape(
        districts=DISTRICTS,
        communes_per_district=max(1, round(23 * ratio)),
        district_others=max(1, round(50 * ratio)),
        bloc_agencies=max(1, round(144 * ratio)),
        bloc_enterprises=max(1, round(120 * ratio)),
        army=max(1, round(20 * ratio)),
        police=max(1, round(20 * ratio)),
        border=max(1, round(10 * ratio)),
        villages=(6, 11),
        affiliated_extra=True,
    )


class _Names:
    """Unique names within one parent (a repeated draw takes the next candidate)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, candidates) -> str:
        candidates = list(candidates)
        for round_ in range(1, 1000):  # a large preset numbers the repeats ("… số 2")
            for name in candidates:
                numbered = name if round_ == 1 else f"{name} số {round_}"
                if numbered not in self.used:
                    self.used.add(numbered)
                    return numbered
        raise ValueError("ran out of names")


def build_tree(shape: Shape, rng: random.Random) -> Tree:
    units: list[UnitSpec] = []
    reform = Reform()
    province = UnitSpec(
        "NB",
        "Đảng bộ tỉnh Ninh Bình",
        UnitKind.PROVINCIAL_COMMITTEE,
        None,
        date(1930, 3, 9),
        place="Ninh Bình",
    )
    units.append(province)
    upper_index = 0

    def upper(name: str, place: str) -> UnitSpec:
        nonlocal upper_index
        upper_index += 1
        spec = UnitSpec(
            f"NB.{upper_index:02d}",
            name,
            UnitKind.UPPER_GRASSROOTS_COMMITTEE,
            "NB",
            date(1947, 1, 1),
            place=place,
        )
        units.append(spec)
        return spec

    def children_of(parent: UnitSpec):
        counter = 0

        def add(
            name: str,
            kind: str,
            *,
            context: str | None = None,
            group: str = "",
            place: str | None = None,
            founded: date | None = None,
        ) -> UnitSpec:
            nonlocal counter
            counter += 1
            width = 3 if parent.kind == UnitKind.UPPER_GRASSROOTS_COMMITTEE else 2
            spec = UnitSpec(
                f"{parent.code}.{counter:0{width}d}",
                name,
                kind,
                parent.code,
                founded or date(rng.randint(1955, 2005), rng.randint(1, 12), 1),
                context=context,
                place=place or parent.place,
                group=group,
            )
            units.append(spec)
            return spec

        return add

    def committee_with_cells(
        add,
        name: str,
        cells: list[str],
        context: str,
        count: int,
        group: str,
        place: str | None = None,
    ) -> UnitSpec:
        committee = add(name, UnitKind.GRASSROOTS_COMMITTEE, group=group, place=place)
        add_cell = children_of(committee)
        for cell_name in cells[:count]:
            add_cell(cell_name, UnitKind.CELL, context=context)
        return committee

    reform_counter = 100
    for district_type, district_name, prefixes in shape.districts:
        district = upper(f"Đảng bộ {district_type} {district_name}", district_name)
        add = children_of(district)
        communes: list[UnitSpec] = []
        names = _Names()
        for index in range(shape.communes_per_district):
            if prefixes is None:
                commune_type = "phường"
                commune_name = names.take(rng.sample(WARD_NAMES, len(WARD_NAMES)))
            else:
                commune_type = "thị trấn" if index == 0 else "xã"
                commune_name = names.take(
                    f"{rng.choice(prefixes)} {suffix}"
                    for suffix in rng.sample(SUFFIXES, len(SUFFIXES))
                )
            commune = add(
                f"Đảng bộ {commune_type} {commune_name}",
                UnitKind.GRASSROOTS_COMMITTEE,
                group="commune",
                place=f"{commune_type} {commune_name}, {district_type} {district_name}",
            )
            communes.append(commune)
            add_cell = children_of(commune)
            urban = commune_type != "xã"
            village_names = _Names()
            for number in range(1, rng.randint(*shape.villages) + 1):
                if urban:
                    add_cell(f"Chi bộ tổ dân phố số {number}", UnitKind.CELL, context=RESIDENTIAL)
                else:
                    word = rng.choice(["thôn", "xóm"])
                    label = village_names.take(
                        [f"{word} {w}" for w in rng.sample(VILLAGE_WORDS, len(VILLAGE_WORDS))]
                        + [f"xóm {n}" for n in range(1, 40)]
                    )
                    add_cell(f"Chi bộ {label}", UnitKind.CELL, context=VILLAGE)
            add_cell(f"Chi bộ Cơ quan {commune_type}", UnitKind.CELL, context=AGENCY)
            add_cell(f"Chi bộ Công an {commune_type}", UnitKind.CELL, context=POLICE)
            if rng.random() < 0.6:
                add_cell("Chi bộ Trường Trung học cơ sở", UnitKind.CELL, context=SCHOOL)
        # The district's own organisations: its agencies' committee, police, army, and
        # grassroots cells of schools, hospitals and branches.
        where = f"{district_type} {district_name}"
        others: list[UnitSpec] = []
        if shape.district_others >= 1:
            others.append(
                committee_with_cells(
                    add,
                    f"Đảng bộ Cơ quan chính quyền {where}",
                    DISTRICT_AGENCY_CELLS,
                    AGENCY,
                    rng.randint(4, 7),
                    "agency",
                )
            )
        if shape.district_others >= 3:
            others.append(
                committee_with_cells(
                    add,
                    f"Đảng bộ Công an {where}",
                    POLICE_CELLS,
                    POLICE,
                    rng.randint(3, 5),
                    "police",
                )
            )
            others.append(
                committee_with_cells(add, f"Đảng bộ Quân sự {where}", ARMY_CELLS, ARMY, 3, "army")
            )
        cell_names = _Names()
        pool = [template.format(d=where) for template, _ in DISTRICT_GRASSROOTS_CELLS]
        contexts = {
            template.format(d=where): context for template, context in DISTRICT_GRASSROOTS_CELLS
        }
        for commune in communes:  # schools of each commune, as grassroots cells of the district
            commune_place = commune.name.removeprefix("Đảng bộ ")
            for level in ("Trường Tiểu học", "Trường Mầm non"):
                name = f"Chi bộ {level} {commune_place}"
                pool.append(name)
                contexts[name] = SCHOOL
        while len(others) < shape.district_others and len(cell_names.used) < len(pool):
            name = cell_names.take(pool)
            others.append(add(name, UnitKind.GRASSROOTS_CELL, context=contexts[name], group="cell"))
        # 2025: the district ends; its communes merge, two to four into one, directly
        # under the province; its other organisations move under the province.
        order = communes[:]
        while order:
            size = min(len(order), rng.randint(2, 4))
            group, order = order[:size], order[size:]
            reform_counter += 1
            first = group[0]
            kind_word = "phường" if prefixes is None else "xã"
            place_name = first.name
            for prefix in ("Đảng bộ thị trấn ", "Đảng bộ xã ", "Đảng bộ phường "):
                place_name = place_name.removeprefix(prefix)
            new_name = f"Đảng bộ {kind_word} {place_name}"
            reform.new_units.append(
                UnitSpec(
                    f"NB.{reform_counter}",
                    new_name,
                    UnitKind.GRASSROOTS_COMMITTEE,
                    "NB",
                    REFORM_DAY,
                    place=f"{kind_word} {place_name}",
                    group="commune",
                )
            )
            for old in group:
                reform.merges.append((old.code, f"NB.{reform_counter}"))
        for other in others:
            kind = (
                UnitKind.GRASSROOTS_COMMITTEE
                if other.kind == UnitKind.GRASSROOTS_COMMITTEE
                else UnitKind.GRASSROOTS_CELL
            )
            reform.moves.append((other.code, "NB", kind))
        reform.ended.append(district.code)

    # Directly affiliated committees: the two blocs, the army, and (province preset)
    # the police, the border guard and the provincial hospital.
    bloc = upper("Đảng bộ Khối các cơ quan tỉnh", "Ninh Bình")
    add = children_of(bloc)
    names = _Names()
    for index in range(shape.bloc_agencies):
        if index < len(DEPARTMENTS):
            committee_with_cells(
                add,
                f"Đảng bộ {DEPARTMENTS[index]}",
                DEPARTMENT_CELLS,
                AGENCY,
                rng.randint(3, 6),
                "agency",
            )
        else:
            pool = [name for name, _ in PROVINCE_GRASSROOTS_CELLS] + [
                f"Chi bộ {unit} {district}"
                for district in [d[1] for d in DISTRICTS]
                for unit in (
                    "Chi cục Thống kê",
                    "Phòng Công chứng số",
                    "Trung tâm Trợ giúp pháp lý",
                    "Chi cục Quản lý thị trường",
                    "Trạm Khuyến nông",
                    "Trạm Thú y",
                    "Trạm Trồng trọt và Bảo vệ thực vật",
                    "Trung tâm Giáo dục nghề nghiệp - Giáo dục thường xuyên",
                    "Chi nhánh Văn phòng Đăng ký đất đai",
                    "Trường THPT",
                    "Hạt Quản lý đê",
                    "Trung tâm Dân số",
                )
            ]
            name = names.take(pool)
            context = dict(PROVINCE_GRASSROOTS_CELLS).get(
                name, SCHOOL if "Trường" in name else AGENCY
            )
            add(name, UnitKind.GRASSROOTS_CELL, context=context, group="cell")
    enterprises = upper("Đảng bộ Khối Doanh nghiệp tỉnh", "Ninh Bình")
    add = children_of(enterprises)
    names = _Names()
    for index in range(shape.bloc_enterprises):
        if index < len(ENTERPRISES):
            committee_with_cells(
                add,
                f"Đảng bộ {ENTERPRISES[index]}",
                ENTERPRISE_CELLS,
                ENTERPRISE,
                rng.randint(3, 5),
                "enterprise",
            )
        else:
            name = names.take(
                f"Chi bộ Công ty cổ phần {word} {place}"
                for word in rng.sample(ENTERPRISE_WORDS, len(ENTERPRISE_WORDS))
                for place in ENTERPRISE_PLACES
            )
            add(name, UnitKind.GRASSROOTS_CELL, context=ENTERPRISE, group="cell")
    army = upper("Đảng bộ Quân sự tỉnh", "Ninh Bình")
    add = children_of(army)
    for index in range(shape.army):
        if index == 0:
            committee_with_cells(
                add, "Đảng bộ Cơ quan Bộ Chỉ huy Quân sự tỉnh", ARMY_CELLS, ARMY, 4, "army"
            )
        else:
            add(
                f"Chi bộ Đại đội {index}, Tiểu đoàn Bộ binh",
                UnitKind.GRASSROOTS_CELL,
                context=ARMY,
                group="cell",
            )
    if shape.affiliated_extra:
        police = upper("Đảng bộ Công an tỉnh", "Ninh Bình")
        add = children_of(police)
        for index in range(shape.police):
            committee_with_cells(
                add,
                f"Đảng bộ Phòng {['Cảnh sát giao thông', 'Cảnh sát hình sự', 'An ninh kinh tế', 'Cảnh sát cơ động', 'Tham mưu', 'Hậu cần', 'Xây dựng phong trào', 'Cảnh sát kinh tế', 'An ninh đối ngoại', 'Cảnh sát môi trường'][index % 10]}"
                + ("" if index < 10 else f" khu vực {index // 10 + 1}"),
                POLICE_CELLS,
                POLICE,
                rng.randint(2, 4),
                "police",
            )
        border = upper("Đảng bộ Bộ đội Biên phòng tỉnh", "Ninh Bình")
        add = children_of(border)
        for index in range(shape.border):
            add(
                f"Chi bộ Đồn Biên phòng {BORDER_POSTS[index % len(BORDER_POSTS)]}"
                + ("" if index < len(BORDER_POSTS) else f" {index // len(BORDER_POSTS) + 1}"),
                UnitKind.GRASSROOTS_CELL,
                context=ARMY,
                group="cell",
            )
        hospital = upper("Đảng bộ Bệnh viện Đa khoa tỉnh", "Ninh Bình")
        add = children_of(hospital)
        for cell in HOSPITAL_CELLS:
            add(cell, UnitKind.GRASSROOTS_CELL, context=HEALTH, group="cell")
    return Tree(units=units, reform=reform, province_place="Ninh Bình")

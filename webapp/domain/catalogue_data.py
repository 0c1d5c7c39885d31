"""Reference catalogues (danh mục) for the Party member record: plain data, no Flask, no DB.

Each catalogue names the regulation or standard it follows in ``Catalogue.source``. Sources:

- Ethnicity (dân tộc): Danh mục các thành phần dân tộc Việt Nam, Quyết định 121-TCTK/PPCĐ
  ngày 2/3/1979 của Tổng cục Thống kê (codes 01-54), plus 55 for foreign origin, as in the
  population and personnel systems that reuse the 1979 codes. The later GSO list (Quyết định
  1019/QĐ-TCTK ngày 12/11/2008) numbers the groups differently (04 Mường, 05 Khơ-me,
  06 Hoa, ... 54 Ơ-đu); the 1979 codes are kept here.
- Religion (tôn giáo): the 16 religions with organisations recognised or registered by the
  State (Ban Tôn giáo Chính phủ, Bộ Nội vụ; Công văn 6955/BNV-TGCP ngày 28/12/2020).
  Codes 01-14 follow the GSO religion list (Quyết định 1019/QĐ-TCTK ngày 12/11/2008, as
  reproduced in QCVN 109:2017/BTTTT Phụ lục G, with Mặc Môn added in 2014); 15-16 extend
  it; 00 = none, 99 = other.
- General education (giáo dục phổ thông): the "lớp/hệ" notation written on Party member
  forms (12-year system x/12, old 10-year system x/10).
- Professional level (trình độ chuyên môn): Luật Giáo dục nghề nghiệp 2014 (sơ cấp,
  trung cấp, cao đẳng) and Luật Giáo dục 2019 (đại học, thạc sĩ, tiến sĩ).
- Academic title (học hàm): Quyết định 37/2018/QĐ-TTg (Giáo sư, Phó Giáo sư).
- Political theory (lý luận chính trị): Kết luận 09-KL/TW (2021) của Ban Bí thư and the
  Central Organization Commission's guidance on determining the level (sơ cấp, trung cấp,
  cao cấp, cử nhân).
- State management (quản lý nhà nước): Nghị định 101/2017/NĐ-CP (programmes for the
  chuyên viên, chuyên viên chính, chuyên viên cao cấp grades).
- Foreign language: Khung năng lực ngoại ngữ 6 bậc, Thông tư 01/2014/TT-BGDĐT; old
  A/B/C certificates.
- IT: Chuẩn kỹ năng sử dụng CNTT, Thông tư 03/2014/TT-BTTTT; old A/B/C certificates;
  vocational/higher IT degrees.
- Occupation (nghề nghiệp): categories of the Party's basic statistics forms on members
  (Hướng dẫn 11-HD/BTCTW ngày 13/12/2021; predecessor Hướng dẫn 12-HD/BTCTW ngày 17/5/2012).
- Commendation (hình thức khen thưởng): Luật Thi đua, khen thưởng số 06/2022/QH15 ngày
  15/6/2022, plus commendations by Party committees. Huy hiệu Đảng is deliberately absent:
  it is a badge for Party age, not a commendation.
- Discipline (kỷ luật đảng viên): Điều lệ Đảng; Quy định 69-QĐ/TW (2022).
- Family relation (quan hệ gia đình): the relatives declared in the Party admission CV
  (lý lịch của người xin vào Đảng); mnemonic codes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    name: str


@dataclass(frozen=True)
class Catalogue:
    kind: str
    title_vi: str
    source: str
    entries: tuple[CatalogueEntry, ...]


def _entries(*pairs: tuple[str, str]) -> tuple[CatalogueEntry, ...]:
    return tuple(CatalogueEntry(code, name) for code, name in pairs)


# 1979 GSO list, in its official order (by population at the time) with its codes.
_ETHNIC_NAMES_1979 = (
    "Kinh",
    "Tày",
    "Thái",
    "Hoa",
    "Khơ-me",
    "Mường",
    "Nùng",
    "Hmông",
    "Dao",
    "Gia-rai",
    "Ngái",
    "Ê-đê",
    "Ba-na",
    "Xơ-đăng",
    "Sán Chay",
    "Cơ-ho",
    "Chăm",
    "Sán Dìu",
    "Hrê",
    "Mnông",
    "Ra-glai",
    "Xtiêng",
    "Bru-Vân Kiều",
    "Thổ",
    "Giáy",
    "Cơ-tu",
    "Gié-Triêng",
    "Mạ",
    "Khơ-mú",
    "Co",
    "Tà-ôi",
    "Chơ-ro",
    "Kháng",
    "Xinh-mun",
    "Hà Nhì",
    "Chu-ru",
    "Lào",
    "La Chí",
    "La Ha",
    "Phù Lá",
    "La Hủ",
    "Lự",
    "Lô Lô",
    "Chứt",
    "Mảng",
    "Pà Thẻn",
    "Cờ Lao",
    "Cống",
    "Bố Y",
    "Si La",
    "Pu Péo",
    "Brâu",
    "Ơ-đu",
    "Rơ-măm",
)

FOREIGN_ORIGIN_CODE = "55"

ETHNICITY = Catalogue(
    kind="ethnicity",
    title_vi="Dân tộc",
    source=(
        "Danh mục các thành phần dân tộc Việt Nam, Quyết định 121-TCTK/PPCĐ ngày 2/3/1979 "
        "của Tổng cục Thống kê (mã 01-54); mã 55 bổ sung cho người nước ngoài/gốc nước ngoài"
    ),
    entries=tuple(
        CatalogueEntry(f"{number:02d}", name)
        for number, name in enumerate(_ETHNIC_NAMES_1979, start=1)
    )
    + (CatalogueEntry(FOREIGN_ORIGIN_CODE, "Người nước ngoài/gốc nước ngoài"),),
)

RELIGION = Catalogue(
    kind="religion",
    title_vi="Tôn giáo",
    source=(
        "16 tôn giáo được Nhà nước công nhận, cấp đăng ký hoạt động (Ban Tôn giáo Chính phủ, "
        "Bộ Nội vụ; Công văn 6955/BNV-TGCP ngày 28/12/2020); mã 01-14 theo Danh mục tôn giáo "
        "của Tổng cục Thống kê (Quyết định 1019/QĐ-TCTK ngày 12/11/2008, bổ sung Mặc Môn năm "
        "2014), mã 15-16 bổ sung; 00 không, 99 khác"
    ),
    entries=_entries(
        ("00", "Không"),
        ("01", "Phật giáo"),
        ("02", "Công giáo"),
        ("03", "Phật giáo Hòa Hảo"),
        ("04", "Hồi giáo"),
        ("05", "Cao Đài"),
        ("06", "Giáo hội Phật đường Nam tông Minh sư đạo"),
        ("07", "Minh Lý đạo – Tam Tông Miếu"),
        ("08", "Tin lành"),
        ("09", "Tịnh độ Cư sĩ Phật hội Việt Nam"),
        ("10", "Tứ Ân Hiếu Nghĩa"),
        ("11", "Bửu Sơn Kỳ Hương"),
        ("12", "Tôn giáo Baha'i"),
        ("13", "Bà-la-môn giáo"),
        ("14", "Giáo hội Các Thánh hữu Ngày sau của Chúa Giê-su Ky-tô"),
        ("15", "Phật giáo Hiếu Nghĩa Tà Lơn"),
        ("16", "Giáo hội Cơ đốc Phục lâm Việt Nam"),
        ("99", "Khác"),
    ),
)

_GRADES_12 = tuple(f"{grade}/12" for grade in range(12, 0, -1))
_GRADES_10 = tuple(f"{grade}/10" for grade in range(10, 0, -1))

GENERAL_EDUCATION = Catalogue(
    kind="general_education",
    title_vi="Giáo dục phổ thông",
    source=(
        "Cách ghi trình độ giáo dục phổ thông trên lý lịch, phiếu đảng viên: hệ 12 năm "
        "(x/12) và hệ 10 năm cũ (x/10)"
    ),
    entries=tuple(CatalogueEntry(grade, grade) for grade in _GRADES_12 + _GRADES_10)
    + (CatalogueEntry("KHONG", "Không"),),
)

PROFESSIONAL_LEVEL = Catalogue(
    kind="professional_level",
    title_vi="Trình độ chuyên môn, nghiệp vụ",
    source=(
        "Trình độ đào tạo theo Luật Giáo dục nghề nghiệp 2014 (sơ cấp, trung cấp, cao đẳng) "
        "và Luật Giáo dục 2019 (đại học, thạc sĩ, tiến sĩ); tiến sĩ khoa học theo quy định cũ"
    ),
    entries=_entries(
        ("CQDT", "Chưa qua đào tạo"),
        ("SC", "Sơ cấp"),
        ("TC", "Trung cấp"),
        ("CD", "Cao đẳng"),
        ("DH", "Đại học"),
        ("THS", "Thạc sĩ"),
        ("TS", "Tiến sĩ"),
        ("TSKH", "Tiến sĩ khoa học"),
    ),
)

ACADEMIC_TITLE = Catalogue(
    kind="academic_title",
    title_vi="Học hàm",
    source="Chức danh giáo sư, phó giáo sư, Quyết định 37/2018/QĐ-TTg của Thủ tướng Chính phủ",
    entries=_entries(
        ("PGS", "Phó Giáo sư"),
        ("GS", "Giáo sư"),
    ),
)

POLITICAL_THEORY = Catalogue(
    kind="political_theory",
    title_vi="Trình độ lý luận chính trị",
    source=(
        "Xác định trình độ lý luận chính trị: Kết luận 09-KL/TW (2021) của Ban Bí thư và "
        "hướng dẫn của Ban Tổ chức Trung ương (sơ cấp, trung cấp, cao cấp, cử nhân)"
    ),
    entries=_entries(
        ("CQDT", "Chưa qua đào tạo"),
        ("SC", "Sơ cấp"),
        ("TC", "Trung cấp"),
        ("CC", "Cao cấp"),
        ("CN", "Cử nhân"),
    ),
)

STATE_MANAGEMENT = Catalogue(
    kind="state_management",
    title_vi="Trình độ quản lý nhà nước",
    source=(
        "Chương trình bồi dưỡng theo ngạch chuyên viên, chuyên viên chính, chuyên viên cao "
        "cấp, Nghị định 101/2017/NĐ-CP (sửa đổi bởi Nghị định 89/2021/NĐ-CP)"
    ),
    entries=_entries(
        ("CV", "Chuyên viên và tương đương"),
        ("CVC", "Chuyên viên chính và tương đương"),
        ("CVCC", "Chuyên viên cao cấp và tương đương"),
    ),
)

FOREIGN_LANGUAGE_LEVEL = Catalogue(
    kind="foreign_language_level",
    title_vi="Trình độ ngoại ngữ",
    source=(
        "Khung năng lực ngoại ngữ 6 bậc dùng cho Việt Nam, Thông tư 01/2014/TT-BGDĐT ngày "
        "24/01/2014 (tương ứng CEFR A1-C2); chứng chỉ ngoại ngữ A, B, C theo chương trình cũ "
        "của Bộ Giáo dục và Đào tạo"
    ),
    entries=_entries(
        ("BAC1", "Bậc 1 (A1)"),
        ("BAC2", "Bậc 2 (A2)"),
        ("BAC3", "Bậc 3 (B1)"),
        ("BAC4", "Bậc 4 (B2)"),
        ("BAC5", "Bậc 5 (C1)"),
        ("BAC6", "Bậc 6 (C2)"),
        ("CC_A", "Chứng chỉ A"),
        ("CC_B", "Chứng chỉ B"),
        ("CC_C", "Chứng chỉ C"),
    ),
)

IT_LEVEL = Catalogue(
    kind="it_level",
    title_vi="Trình độ tin học",
    source=(
        "Chuẩn kỹ năng sử dụng công nghệ thông tin, Thông tư 03/2014/TT-BTTTT ngày 11/3/2014 "
        "(cơ bản, nâng cao); chứng chỉ tin học ứng dụng A, B, C theo chương trình cũ của Bộ "
        "Giáo dục và Đào tạo; văn bằng trung cấp, cao đẳng, đại học ngành CNTT"
    ),
    entries=_entries(
        ("UD_CB", "Ứng dụng CNTT cơ bản"),
        ("UD_NC", "Ứng dụng CNTT nâng cao"),
        ("CC_A", "Chứng chỉ tin học A"),
        ("CC_B", "Chứng chỉ tin học B"),
        ("CC_C", "Chứng chỉ tin học C"),
        ("TC_CNTT", "Trung cấp CNTT"),
        ("CD_CNTT", "Cao đẳng CNTT"),
        ("DH_CNTT", "Đại học CNTT"),
    ),
)

OCCUPATION = Catalogue(
    kind="occupation",
    title_vi="Nghề nghiệp",
    source=(
        "Phân loại đảng viên theo nghề nghiệp trong biểu thống kê cơ bản về công tác tổ chức "
        "xây dựng Đảng, Hướng dẫn 11-HD/BTCTW ngày 13/12/2021 của Ban Tổ chức Trung ương "
        "(trước đó Hướng dẫn 12-HD/BTCTW ngày 17/5/2012)"
    ),
    entries=_entries(
        ("CBCC_NN", "Cán bộ, công chức cơ quan nhà nước từ cấp huyện trở lên"),
        (
            "CBCC_DANG_DT",
            "Cán bộ, công chức cơ quan Đảng, Mặt trận Tổ quốc, tổ chức chính trị - xã hội "
            "từ cấp huyện trở lên",
        ),
        ("CBCC_XA", "Cán bộ, công chức, người hoạt động không chuyên trách ở cấp xã"),
        ("KCT_THON", "Người hoạt động không chuyên trách ở thôn, tổ dân phố"),
        ("VIEN_CHUC", "Viên chức trong đơn vị sự nghiệp công lập"),
        ("DOANH_NGHIEP", "Lãnh đạo, quản lý, nhân viên trong doanh nghiệp"),
        ("CONG_NHAN", "Công nhân"),
        ("CHU_DNTN", "Chủ doanh nghiệp tư nhân"),
        ("NONG_DAN", "Nông dân (nông, lâm, ngư nghiệp)"),
        ("QUAN_DOI", "Quân đội"),
        ("CONG_AN", "Công an"),
        ("HSSV", "Học sinh, sinh viên"),
        ("HUU_TRI", "Hưu trí, nghỉ mất sức"),
        ("KHAC", "Nghề nghiệp khác"),
    ),
)

_RANKS = (("1", "hạng Nhất"), ("2", "hạng Nhì"), ("3", "hạng Ba"))


def _ranked(code: str, name: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{code}_{digit}", f"{name} {rank}") for digit, rank in _RANKS)


COMMENDATION_FORM = Catalogue(
    kind="commendation_form",
    title_vi="Hình thức khen thưởng",
    source=(
        "Hình thức khen thưởng theo Luật Thi đua, khen thưởng số 06/2022/QH15 ngày 15/6/2022 "
        "(huân chương, huy chương, danh hiệu vinh dự nhà nước, giải thưởng, kỷ niệm chương, "
        "bằng khen, giấy khen); bằng khen, giấy khen của cấp ủy đảng theo Điều lệ Đảng. "
        "Huy hiệu Đảng không thuộc danh mục này"
    ),
    entries=_entries(
        ("HC_SAO_VANG", "Huân chương Sao vàng"),
        ("HC_HCM", "Huân chương Hồ Chí Minh"),
        *_ranked("HC_DOC_LAP", "Huân chương Độc lập"),
        *_ranked("HC_QUAN_CONG", "Huân chương Quân công"),
        *_ranked("HC_LAO_DONG", "Huân chương Lao động"),
        *_ranked("HC_BVTQ", "Huân chương Bảo vệ Tổ quốc"),
        *_ranked("HC_CHIEN_CONG", "Huân chương Chiến công"),
        ("HC_DDKDT", "Huân chương Đại đoàn kết dân tộc"),
        ("HC_DUNG_CAM", "Huân chương Dũng cảm"),
        ("HC_HUU_NGHI", "Huân chương Hữu nghị"),
        ("HCH_QKQT", "Huy chương Quân kỳ quyết thắng"),
        ("HCH_VANTQ", "Huy chương Vì an ninh Tổ quốc"),
        *_ranked("HCH_CSVV", "Huy chương Chiến sĩ vẻ vang"),
        ("HCH_HUU_NGHI", "Huy chương Hữu nghị"),
        ("DH_BMVNAH", "Bà mẹ Việt Nam anh hùng"),
        ("DH_AH_LLVT", "Anh hùng Lực lượng vũ trang nhân dân"),
        ("DH_AH_LD", "Anh hùng Lao động"),
        ("DH_NGND", "Nhà giáo nhân dân"),
        ("DH_NGUT", "Nhà giáo ưu tú"),
        ("DH_TTND", "Thầy thuốc nhân dân"),
        ("DH_TTUT", "Thầy thuốc ưu tú"),
        ("DH_NSND", "Nghệ sĩ nhân dân"),
        ("DH_NSUT", "Nghệ sĩ ưu tú"),
        ("DH_NNND", "Nghệ nhân nhân dân"),
        ("DH_NNUT", "Nghệ nhân ưu tú"),
        ("GT_HCM", "Giải thưởng Hồ Chí Minh"),
        ("GT_NN", "Giải thưởng Nhà nước"),
        ("KNC", "Kỷ niệm chương"),
        ("BK_TTCP", "Bằng khen của Thủ tướng Chính phủ"),
        ("BK_BO_TINH", "Bằng khen cấp bộ, ban, ngành, tỉnh, đoàn thể trung ương"),
        ("GK", "Giấy khen"),
        ("BK_CAP_UY", "Bằng khen của cấp ủy đảng"),
        ("GK_CAP_UY", "Giấy khen của cấp ủy đảng"),
    ),
)

DISCIPLINE_FORM = Catalogue(
    kind="discipline_form",
    title_vi="Hình thức kỷ luật đảng viên",
    source=(
        "Điều lệ Đảng (đảng viên chính thức: khiển trách, cảnh cáo, cách chức, khai trừ; "
        "đảng viên dự bị: khiển trách, cảnh cáo); Quy định 69-QĐ/TW (2022) của Bộ Chính trị "
        "về kỷ luật tổ chức đảng, đảng viên vi phạm"
    ),
    entries=_entries(
        ("KHIEN_TRACH", "Khiển trách"),
        ("CANH_CAO", "Cảnh cáo"),
        ("CACH_CHUC", "Cách chức"),
        ("KHAI_TRU", "Khai trừ"),
    ),
)

# 1 = lightest … 4 = heaviest.
DISCIPLINE_SEVERITY: dict[str, int] = {
    "KHIEN_TRACH": 1,
    "CANH_CAO": 2,
    "CACH_CHUC": 3,
    "KHAI_TRU": 4,
}

# Forms that may be applied to a probationary (dự bị) member; all four apply to official ones.
DISCIPLINE_FOR_PROBATIONARY: frozenset[str] = frozenset({"KHIEN_TRACH", "CANH_CAO"})

FAMILY_RELATION = Catalogue(
    kind="family_relation",
    title_vi="Quan hệ gia đình",
    source=(
        "Các quan hệ gia đình kê khai trong lý lịch của người xin vào Đảng (cha mẹ, cha mẹ "
        "vợ/chồng, vợ/chồng, con, anh chị em ruột); mã gợi nhớ"
    ),
    entries=_entries(
        ("BO", "Bố"),
        ("ME", "Mẹ"),
        ("BO_NUOI", "Bố nuôi"),
        ("ME_NUOI", "Mẹ nuôi"),
        ("NGUOI_NUOI_DUONG", "Người nuôi dưỡng"),
        ("VO", "Vợ"),
        ("CHONG", "Chồng"),
        ("CON", "Con"),
        ("CON_NUOI", "Con nuôi"),
        ("ANH", "Anh"),
        ("CHI", "Chị"),
        ("EM", "Em"),
        ("BO_VO", "Bố vợ"),
        ("ME_VO", "Mẹ vợ"),
        ("BO_CHONG", "Bố chồng"),
        ("ME_CHONG", "Mẹ chồng"),
        ("ONG_NOI", "Ông nội"),
        ("BA_NOI", "Bà nội"),
        ("ONG_NGOAI", "Ông ngoại"),
        ("BA_NGOAI", "Bà ngoại"),
        ("KHAC", "Khác"),
    ),
)

CATALOGUES: dict[str, Catalogue] = {
    catalogue.kind: catalogue
    for catalogue in (
        ETHNICITY,
        RELIGION,
        GENERAL_EDUCATION,
        PROFESSIONAL_LEVEL,
        ACADEMIC_TITLE,
        POLITICAL_THEORY,
        STATE_MANAGEMENT,
        FOREIGN_LANGUAGE_LEVEL,
        IT_LEVEL,
        OCCUPATION,
        COMMENDATION_FORM,
        DISCIPLINE_FORM,
        FAMILY_RELATION,
    )
}


def entry_names(kind: str) -> list[str]:
    """Names of a catalogue's entries, in catalogue order (KeyError for an unknown kind)."""
    return [entry.name for entry in CATALOGUES[kind].entries]

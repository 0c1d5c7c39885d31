import unicodedata

import pytest

from webapp.domain.catalogue_data import (
    CATALOGUES,
    DISCIPLINE_FOR_PROBATIONARY,
    DISCIPLINE_SEVERITY,
    Catalogue,
    CatalogueEntry,
    entry_names,
)

EXPECTED_KINDS = {
    "ethnicity",
    "religion",
    "general_education",
    "professional_level",
    "academic_title",
    "political_theory",
    "state_management",
    "foreign_language_level",
    "it_level",
    "occupation",
    "commendation_form",
    "discipline_form",
    "family_relation",
}

ALL = sorted(CATALOGUES)


def test_every_requested_catalogue_is_present_under_its_kind():
    assert set(CATALOGUES) == EXPECTED_KINDS
    for kind, catalogue in CATALOGUES.items():
        assert isinstance(catalogue, Catalogue)
        assert catalogue.kind == kind
        assert catalogue.title_vi.strip() and catalogue.source.strip()
        assert catalogue.entries


def test_ethnicity_has_54_groups_plus_foreign_origin_coded_01_to_55_in_order():
    entries = CATALOGUES["ethnicity"].entries
    assert len(entries) == 55
    assert [entry.code for entry in entries] == [f"{n:02d}" for n in range(1, 56)]
    assert entries[0] == CatalogueEntry("01", "Kinh")
    # First ten of the 1979 GSO list, in its order.
    assert [entry.name for entry in entries[:10]] == [
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
    ]
    assert entries[-1].code == "55"
    assert "nước ngoài" in entries[-1].name


@pytest.mark.parametrize("kind", ALL)
def test_codes_and_names_are_unique(kind):
    entries = CATALOGUES[kind].entries
    codes = [entry.code for entry in entries]
    names = [entry.name for entry in entries]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("kind", ALL)
def test_codes_are_stable_ascii(kind):
    for entry in CATALOGUES[kind].entries:
        assert entry.code and entry.code.isascii()
        assert entry.code == entry.code.strip() and " " not in entry.code


@pytest.mark.parametrize("kind", ALL)
def test_names_are_non_empty_stripped_nfc(kind):
    for entry in CATALOGUES[kind].entries:
        assert entry.name
        assert entry.name == entry.name.strip()
        assert "  " not in entry.name
        assert unicodedata.is_normalized("NFC", entry.name), entry.name
    assert unicodedata.is_normalized("NFC", CATALOGUES[kind].title_vi)
    assert unicodedata.is_normalized("NFC", CATALOGUES[kind].source)


def test_religion_starts_with_none_and_ends_with_other():
    entries = CATALOGUES["religion"].entries
    assert entries[0] == CatalogueEntry("00", "Không")
    assert entries[-1].name == "Khác"
    assert len(entries) == 18  # Không + 16 recognised religions + Khác


def test_general_education_lists_both_school_systems():
    codes = [entry.code for entry in CATALOGUES["general_education"].entries]
    assert codes[:12] == [f"{grade}/12" for grade in range(12, 0, -1)]
    assert codes[12:22] == [f"{grade}/10" for grade in range(10, 0, -1)]


def test_party_badge_is_not_a_commendation():
    assert not any("Huy hiệu" in name for name in entry_names("commendation_form"))


def test_discipline_severities_are_ordered():
    codes = [entry.code for entry in CATALOGUES["discipline_form"].entries]
    assert set(DISCIPLINE_SEVERITY) == set(codes)
    assert [DISCIPLINE_SEVERITY[code] for code in codes] == [1, 2, 3, 4]
    assert entry_names("discipline_form") == ["Khiển trách", "Cảnh cáo", "Cách chức", "Khai trừ"]


def test_probationary_members_only_get_the_two_lightest_forms():
    probationary = set(DISCIPLINE_FOR_PROBATIONARY)
    assert probationary == {"KHIEN_TRACH", "CANH_CAO"}
    assert all(DISCIPLINE_SEVERITY[code] <= 2 for code in DISCIPLINE_FOR_PROBATIONARY)


def test_entry_names_follow_catalogue_order():
    assert entry_names("academic_title") == ["Phó Giáo sư", "Giáo sư"]
    assert entry_names("ethnicity")[0] == "Kinh"
    with pytest.raises(KeyError):
        entry_names("no_such_kind")


def test_entries_are_immutable():
    entry = CATALOGUES["ethnicity"].entries[0]
    with pytest.raises(AttributeError):
        entry.name = "Việt"  # type: ignore[misc]

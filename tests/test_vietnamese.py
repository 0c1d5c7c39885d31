from webapp.domain.vietnamese import fold, name_sort_key, search_key, search_tokens


def test_fold_strips_every_diacritic_and_d_stroke():
    assert fold("Nguyễn Thị Hường") == "nguyen thi huong"
    assert fold("ĐẶNG  Văn   Đức") == "dang van duc"
    assert fold(None) == ""


def test_search_tokens_match_stored_key_with_or_without_diacritics():
    stored = search_key("Nguyễn Thị Hường", "000123NB")
    for query in ("nguyen thi huong", "Nguyễn Thị Hường", "HUONG", "000123nb"):
        assert all(token in stored for token in search_tokens(query))


def test_search_key_drops_repeated_parts():
    assert search_key("Lê Văn A", "Lê Văn A", None, "") == "le van a"


def test_names_sort_by_given_name_in_vietnamese_alphabet_order():
    names = [
        "Trần Văn Đức",
        "Lê Thị Dung",
        "Nguyễn Văn Ân",
        "Phạm Thị Ăn",
        "Hoàng Văn An",
        "Vũ Thị Anh",
        "Bùi Văn Bình",
        "Đỗ Thị Ánh",
    ]
    ordered = sorted(names, key=name_sort_key)
    given = [name.split()[-1] for name in ordered]
    # a < ă < â < b < … < d < đ; tones break ties after the letters (An < Anh, Anh < Ánh).
    assert given == ["An", "Anh", "Ánh", "Ăn", "Ân", "Bình", "Dung", "Đức"]


def test_same_given_name_sorts_by_middle_then_family_name():
    ordered = sorted(["Trần Văn Bình", "Lê Văn Bình", "Nguyễn An Bình"], key=name_sort_key)
    assert ordered == ["Nguyễn An Bình", "Lê Văn Bình", "Trần Văn Bình"]


def test_tones_order_level_grave_hook_tilde_acute_dot():
    syllables = ["Ma", "Mà", "Mả", "Mã", "Má", "Mạ"]
    shuffled = list(reversed(syllables))
    assert sorted(shuffled, key=lambda s: name_sort_key(f"Lê {s}")) == syllables

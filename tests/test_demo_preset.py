"""The province preset (issue 17): the seed's shape, and members written in bulk exactly
as the commands write them (the bulk writer's guarantee, webapp/demo/bulk.py)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

TODAY = date(2026, 11, 20)
# Columns that differ between two builds of the same data by nature: clocks and the
# optimistic-lock counter (see webapp/demo/bulk.py).
VOLATILE = {"created_at", "updated_at", "recorded_at", "changed_at", "version_id"}
TABLES = (
    "unit",
    "unit_change",
    "member",
    "member_event",
    "member_period",
    "member_work_period",
    "member_training",
    "member_commendation",
    "member_discipline",
    "member_trip_abroad",
    "member_family_relation",
    "member_supplement",
    "member_change",
    "party_card",
    "card_number_counter",
)


def _snapshot(session) -> dict[str, list[tuple]]:
    from webapp.models import metadata

    tables = {t.name: t for t in metadata.sorted_tables}
    found = {}
    for name in TABLES:
        table = tables[name]
        # A member's periods are rebuilt on every event, so their keys say nothing.
        skip = VOLATILE | ({"id"} if name == "member_period" else set())
        columns = [c for c in table.columns if c.name not in skip]
        found[name] = sorted(
            session.execute(select(*columns)).all(), key=lambda row: tuple(map(str, row))
        )
    return found


def _plans(tree, members: int, seed: int):
    from webapp.demo import assign_cells, plans, small_levels

    cells = assign_cells(tree, members, seed)
    return list(plans(seed, cells, small_levels(seed, cells, TODAY), TODAY, "01"))


def test_bulk_writes_exactly_what_the_commands_write(app, db_session):
    from conftest import _clean_data
    from webapp.demo.bulk import Ids, found_units_bulk, write_members_bulk
    from webapp.demo.shape import build_tree, small_shape
    from webapp.demo.writer import found_units, write_members
    from webapp.domain.commands import transaction
    from webapp.extensions import db

    tree = build_tree(small_shape(80), random.Random(3))
    plans = _plans(tree, 80, 3)
    units = found_units(db_session, tree.units, TODAY)
    write_members(db_session, plans, units, TODAY, app.config["MEMBER_NUMBER_PATTERN"])
    by_commands = _snapshot(db_session)

    _clean_data(db)
    with transaction(db_session):
        ids = Ids(db_session)
        unit_ids = found_units_bulk(db_session, tree.units, ids)
        ids.settle()
    write_members_bulk(db_session, plans, unit_ids, TODAY, batch_size=30)
    in_bulk = _snapshot(db_session)

    assert len(by_commands["member"]) == 80 and by_commands["member_event"]
    assert by_commands["member_change"] and by_commands["party_card"]
    for name in TABLES:
        assert in_bulk[name] == by_commands[name], name


def test_province_preset_has_the_seed_shape_scaled_down(app, db_session):
    from webapp.demo import build_preset
    from webapp.models import Member, MemberEvent, Unit
    from webapp.models.badges import BadgeAward

    summary = build_preset(db_session, members=2000, seed=1, today=TODAY)
    assert summary["members"] == 2000
    units = db_session.scalars(select(Unit)).all()
    upper = [u for u in units if u.kind == "upper_grassroots_committee"]
    assert len(upper) == 16
    districts = [u for u in upper if u.name.startswith(("Đảng bộ huyện", "Đảng bộ thành phố"))]
    blocs = [u for u in upper if u.name.startswith("Đảng bộ Khối")]
    assert len(districts) == 10 and len(blocs) == 2
    # 2025: the districts ended, merged into the province; the affiliated ones remain.
    assert all(d.dissolved_on == date(2025, 7, 1) for d in districts)
    assert all(u.dissolved_on is None for u in upper if u not in districts)
    grassroots = [
        u
        for u in units
        if u.kind in ("grassroots_committee", "grassroots_cell") and u.dissolved_on is None
    ]
    assert 20 <= len(grassroots) <= 60  # 1,050 × 2,000 / 99,300 ≈ 21, at least one per kind
    levels = Counter(db_session.scalars(select(Member.completeness)))
    assert levels["four_page"] == round(97_372 * 2000 / 99_300)
    assert levels["one_page"] == round(802 * 2000 / 99_300)
    statuses = Counter(db_session.scalars(select(Member.status)))
    assert statuses["official"] > 1500 and statuses["deceased"] > 0 and statuses["probationary"] > 0
    kinds = Counter(db_session.scalars(select(MemberEvent.kind)))
    assert kinds["admission"] == 2000 and kinds["transfer_within"] > 100
    women = statuses and db_session.scalar(select(func.count()).where(Member.sex == "female"))
    assert 0.25 < women / 2000 < 0.5
    assert db_session.scalar(select(func.count(BadgeAward.id))) > 50


def _badge_rows(session) -> dict[str, list[tuple]]:
    from webapp.models.badges import BadgeAward, BadgeProposal

    found = {}
    for model in (BadgeProposal, BadgeAward):
        # Keys and clocks say nothing; an award names its proposal by the proposal's member
        # and milestone instead of its key.
        skip = VOLATILE | {"id", "proposal_id", "proposed_at", "decided_at"}
        columns = [c for c in model.__table__.columns if c.name not in skip]
        found[model.__tablename__] = sorted(
            session.execute(select(*columns)).all(), key=lambda row: tuple(map(str, row))
        )
    found["pairs"] = sorted(
        session.execute(
            select(BadgeAward.badge_number, BadgeProposal.member_id, BadgeProposal.milestone).join(
                BadgeProposal, BadgeProposal.id == BadgeAward.proposal_id
            )
        ).all()
    )
    return found


def test_bulk_badge_rounds_award_what_the_commands_award(app, db_session):
    from webapp.demo import badge_occasions
    from webapp.demo.bulk import Ids, badge_rounds_bulk, found_units_bulk, write_members_bulk
    from webapp.demo.shape import build_tree, small_shape
    from webapp.demo.writer import badge_rounds
    from webapp.domain.commands import transaction
    from webapp.models.badges import BadgeAward, BadgeProposal

    tree = build_tree(small_shape(300), random.Random(5))
    with transaction(db_session):
        ids = Ids(db_session)
        unit_ids = found_units_bulk(db_session, tree.units, ids)
        ids.settle()
    write_members_bulk(db_session, _plans(tree, 300, 5), unit_ids, TODAY)
    occasions = badge_occasions(TODAY)
    by_commands_count = badge_rounds(db_session, occasions, TODAY)
    by_commands = _badge_rows(db_session)
    with transaction(db_session):
        db_session.execute(BadgeAward.__table__.delete())
        db_session.execute(BadgeProposal.__table__.delete())
    in_bulk_count = badge_rounds_bulk(db_session, occasions, TODAY)
    in_bulk = _badge_rows(db_session)

    assert by_commands_count > 20 and in_bulk_count == by_commands_count
    # Several rounds, several milestones: the held badges of one round count in the next.
    assert len({row[-1] for row in by_commands["pairs"]}) > 1
    for name in by_commands:
        assert in_bulk[name] == by_commands[name], name


def test_national_preset_through_the_command_line(app, db_session):
    """`demo --preset national --members N`: the province's shape scaled to N, members in
    bulk, with the steps and the summary printed; without --members it is refused."""
    from webapp.models import Member, Unit

    runner = app.test_cli_runner()
    refused = runner.invoke(args=["demo", "--preset", "national"])
    assert refused.exit_code == 2 and "--members" in refused.output
    assert db_session.scalar(select(func.count(Unit.id))) == 0

    result = runner.invoke(args=["demo", "--preset", "national", "--members", "500", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "Demo province loaded:" in result.output and "500 members" in result.output
    assert "s: badges" in result.output  # the steps, with the time spent so far
    assert db_session.scalar(select(func.count(Member.id))) == 500
    upper = db_session.scalar(
        select(func.count(Unit.id)).where(Unit.kind == "upper_grassroots_committee")
    )
    assert upper == 16
    # The bulk writer left PostgreSQL's sequences past its keys: the next member the
    # commands add gets a fresh key.
    next_id = db_session.scalar(select(func.nextval("member_id_seq")))
    assert next_id > db_session.scalar(select(func.max(Member.id)))


def test_a_national_set_numbers_its_cards_past_one_prefix():
    """One prefix holds 999,999 cards (NN.NNNNNN): a national set of a million members
    went on to "01.1000000" and its card round found no number left. The demo's numbers
    continue in the next prefixes, each a valid card number the registry accepts."""
    from webapp.demo.people import card_number
    from webapp.domain.cards import CARD_NUMBER_PATTERN

    numbers = {
        sequence: card_number("01", sequence)
        for sequence in (1, 999_999, 1_000_000, 1_999_998, 1_999_999, 5_600_000)
    }
    assert numbers == {
        1: "01.000001",
        999_999: "01.999999",
        1_000_000: "02.000001",
        1_999_998: "02.999999",
        1_999_999: "03.000001",
        5_600_000: "06.600005",
    }
    assert all(CARD_NUMBER_PATTERN.match(number) for number in numbers.values())
    assert len(set(numbers.values())) == len(numbers)
    # The round after the bulk cards numbers from the last prefix reached.
    assert card_number("01", 100_000).startswith("01.")
    with pytest.raises(ValueError):
        card_number("99", 1_000_000)

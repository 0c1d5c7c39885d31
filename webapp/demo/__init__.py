"""A realistic, deterministic demo province (`flask --app wsgi demo`).

- webapp/demo/shape.py: the organisation tree (units whose names and kinds fit their
  parents, the 2025 reform);
- webapp/demo/names.py: Vietnamese names by sex;
- webapp/demo/people.py: one member's plan (record, rows, history, card, supplements),
  drawn from the member's own random stream;
- webapp/demo/writer.py: writing plans through the domain's commands;
- webapp/demo/bulk.py: writing the same plans in bulk for the province preset (the rows
  the commands would write, computed by the same domain functions; a test compares both).

Same seed, same day: same province.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.demo.people import (
    FOUR_PAGE,
    INCOMPLETE,
    ONE_PAGE,
    MemberPlan,
    card_number,
    member_rng,
    plan_member,
    skeleton,
)
from webapp.demo.shape import (
    CELL_WEIGHT,
    REFORM_DAY,
    Tree,
    UnitSpec,
    build_tree,
    province_shape,
    small_shape,
)
from webapp.demo.writer import (
    apply_reform,
    badge_rounds,
    card_round,
    found_units,
    merge_two_cells,
    write_members,
)
from webapp.domain.cards import check_prefix
from webapp.models.ledger import MemberEvent
from webapp.models.record import MemberSupplement
from webapp.models.unit import Unit


def assign_cells(tree: Tree, members: int, seed: int) -> list[UnitSpec]:
    """The admitting cell of each member, bigger cells for villages than for offices."""
    holders = tree.holders()
    weights = [CELL_WEIGHT.get(h.context or "", 1.0) for h in holders]
    rng = random.Random(seed * 7 + 1)
    return rng.choices(holders, weights=weights, k=members)


def small_levels(seed: int, cells: list[UnitSpec], today: date) -> list[str]:
    """Most records are complete; six in ten members admitted this last year still have
    one page only; a few old records lack what the paper lost."""
    rng = random.Random(seed * 11 + 3)
    levels = []
    for sequence, cell in enumerate(cells, start=1):
        bone = skeleton(member_rng(seed, sequence), cell, today)
        draw = rng.random()
        if (today - bone.admitted).days < 400 and draw < 0.6:
            levels.append(ONE_PAGE)
        elif bone.admitted.year < 1975 and draw < 0.05:
            levels.append(INCOMPLETE)
        else:
            levels.append(FOUR_PAGE)
    return levels


def plans(
    seed: int,
    cells: list[UnitSpec],
    levels: list[str],
    today: date,
    card_prefix: str,
    first: int = 1,
):
    holders = sorted({c.code: c for c in cells}.values(), key=lambda c: c.code)
    for offset, (cell, level) in enumerate(zip(cells, levels, strict=True)):
        yield plan_member(seed, first + offset, cell, holders, today, level, card_prefix)


def badge_occasions(today: date, since: int = 1995) -> list[date]:
    """A round each 3 February since `since`, and every occasion of the last two years."""
    days = [date(year, 2, 3) for year in range(since, today.year + 1)]
    for year in (today.year - 1, today.year):
        days += [date(year, 5, 19), date(year, 9, 2), date(year, 11, 7)]
    return sorted(d for d in set(days) if d <= today)


def generate_province(
    session: Session,
    *,
    members: int,
    seed: int,
    today: date | None = None,
    card_prefix: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """The small demo, every change through the domain's commands: units, members with
    their rows, ledgers, cards and supplements, the 2025 reform, a cell merge, a card
    round and the badge rounds since 1995."""
    today = today or date.today()
    card_prefix = check_prefix(card_prefix or current_app.config["CARD_NUMBER_PREFIX"])
    pattern = current_app.config["MEMBER_NUMBER_PATTERN"]
    tree = build_tree(small_shape(members), random.Random(seed))
    units = found_units(session, tree.units, today)
    cells = assign_cells(tree, members, seed)
    levels = small_levels(seed, cells, today)
    write_members(
        session,
        plans(seed, cells, levels, today, card_prefix),
        units,
        today,
        pattern,
        progress=progress,
    )
    merges = apply_reform(session, tree, units, today) if today >= REFORM_DAY else 0
    with_merge = _transaction_result(session, lambda: merge_two_cells(session, today))
    card_round(session, today, card_prefix)
    badge_rounds(session, badge_occasions(today), today)
    return summary(session, members, merges + int(with_merge))


# The seed article's counts (Nam Định, 2012): full and one-page records among ~99,300.
SEED_MEMBERS, SEED_FOUR_PAGE, SEED_ONE_PAGE = 99_300, 97_372, 802


def preset_levels(seed: int, cells: list[UnitSpec], today: date) -> list[str]:
    """Exactly the seed's shares: 97,372 four-page and 802 one-page records in 99,300
    (scaled); the one-page ones among the most recently admitted, the rest (records not
    complete on page 1) among the oldest."""
    total = len(cells)
    four = round(SEED_FOUR_PAGE * total / SEED_MEMBERS)
    one = round(SEED_ONE_PAGE * total / SEED_MEMBERS)
    admitted = [
        skeleton(member_rng(seed, sequence), cell, today).admitted
        for sequence, cell in enumerate(cells, start=1)
    ]
    by_date = sorted(range(total), key=lambda i: (admitted[i], i))
    levels = [FOUR_PAGE] * total
    rng = random.Random(seed * 13 + 5)
    recent = by_date[-max(one * 3, one) :]
    for index in rng.sample(recent, min(one, len(recent))):
        levels[index] = ONE_PAGE
    oldest = [i for i in by_date if levels[i] == FOUR_PAGE][: max(0, total - four - one)]
    for index in oldest:
        levels[index] = INCOMPLETE
    return levels


def preset_badge_occasions(today: date) -> list[date]:
    """Fewer rounds than the small demo's yearly ones (each round reads the whole province):
    every fifth year since 2000, then every occasion of the last year."""
    days = [date(year, 2, 3) for year in range(2000, today.year + 1, 5)]
    days += [date(today.year - 1, 9, 2), date(today.year, 2, 3), date(today.year, 5, 19)]
    days += [date(today.year, 9, 2)]
    return sorted(d for d in set(days) if d <= today)


def build_preset(
    session: Session,
    *,
    members: int,
    seed: int,
    today: date | None = None,
    card_prefix: str | None = None,
    progress: Callable[[int], None] | None = None,
    step: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """The province preset: the seed's shape (16 upper committees, 1,050 grassroots
    organisations for 99,300 members), members written in bulk (webapp/demo/bulk.py), then
    the 2025 reform, a cell merge, a card round and badge rounds through the commands."""
    from webapp.demo.bulk import Ids, badge_rounds_bulk, found_units_bulk, write_members_bulk
    from webapp.domain.commands import transaction

    today = today or date.today()
    card_prefix = check_prefix(card_prefix or current_app.config["CARD_NUMBER_PREFIX"])
    say = step or (lambda text: None)
    tree = build_tree(province_shape(members), random.Random(seed))
    with transaction(session):
        ids = Ids(session)
        unit_ids = found_units_bulk(session, tree.units, ids)
        ids.settle()
    cells = assign_cells(tree, members, seed)
    levels = preset_levels(seed, cells, today)
    say("members")
    write_members_bulk(
        session, plans(seed, cells, levels, today, card_prefix), unit_ids, today, progress=progress
    )
    units = {u.code: u for u in session.scalars(select(Unit))}
    say("reform")
    merges = apply_reform(session, tree, units, today) if today >= REFORM_DAY else 0
    with_merge = _transaction_result(session, lambda: merge_two_cells(session, today))
    say("cards")
    # The round numbers from the last prefix the members' cards reached (a national set
    # fills the first prefixes' 999,999 serials).
    card_round(session, today, card_number(card_prefix, members).split(".")[0])
    say("badges")
    badge_rounds_bulk(session, preset_badge_occasions(today), today)
    return summary(session, members, merges + int(with_merge))


def _transaction_result(session: Session, run: Callable[[], bool]) -> bool:
    from webapp.domain.commands import transaction

    with transaction(session):
        return run()


def summary(session: Session, members: int, merges: int) -> dict[str, int]:
    return {
        "units": session.scalar(select(func.count(Unit.id))),
        "members": members,
        "events": session.scalar(select(func.count(MemberEvent.id))),
        "supplements": session.scalar(select(func.count(MemberSupplement.id))),
        "merges": merges,
    }


__all__ = ["build_preset", "generate_province", "MemberPlan", "province_shape"]

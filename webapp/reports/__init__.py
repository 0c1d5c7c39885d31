"""Report rendering: each report turns a ReportRun's parameters into a file.

REPORTS maps the report's name (as used by the CLI, the screen and the job) to its spec;
runs.py owns the ReportRun life cycle around them.
"""

from webapp.reports.card_badge_lists import CARD_BADGE_LISTS
from webapp.reports.cards_badges import CARD_AND_BADGE_REPORTS
from webapp.reports.commendation_discipline import COMMENDATION_DISCIPLINE
from webapp.reports.completeness import COMPLETENESS
from webapp.reports.delegates import DELEGATES
from webapp.reports.increase_decrease import INCREASE_DECREASE
from webapp.reports.member_export import MEMBER_EXPORT
from webapp.reports.member_form import MEMBER_FORM
from webapp.reports.member_list import MEMBER_LIST
from webapp.reports.quality import QUALITY

REPORTS = {
    spec.name: spec
    for spec in (
        INCREASE_DECREASE,
        MEMBER_LIST,
        MEMBER_EXPORT,
        MEMBER_FORM,
        QUALITY,
        COMMENDATION_DISCIPLINE,
        COMPLETENESS,
        CARD_BADGE_LISTS,
        DELEGATES,
        *CARD_AND_BADGE_REPORTS,
    )
}

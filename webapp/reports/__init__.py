"""Report rendering: each report turns a ReportRun's parameters into a file.

REPORTS maps the report's name (as used by the CLI, the screen and the job) to its
renderer; runs.py owns the ReportRun life cycle around them.
"""

from webapp.reports.cards_badges import CARD_AND_BADGE_REPORTS
from webapp.reports.member_list import MEMBER_LIST

REPORTS = {spec.name: spec for spec in (MEMBER_LIST, *CARD_AND_BADGE_REPORTS)}

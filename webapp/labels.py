"""User-facing labels for columns and coded values, shared by screens, API and reports."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l

from webapp.domain.ledger import Activity, EventKind
from webapp.models.badges import BadgeProposalKind, BadgeProposalState
from webapp.models.cards import CardReason, CardState, ProposalState
from webapp.models.member import BirthDatePrecision, MemberStatus, Sex
from webapp.models.report_run import ReportState
from webapp.models.unit import UnitChangeKind, UnitKind

UNIT_KIND_LABELS = {
    UnitKind.PROVINCIAL_COMMITTEE: _l("Provincial Party committee"),
    UnitKind.UPPER_GRASSROOTS_COMMITTEE: _l("Upper-grassroots Party committee"),
    UnitKind.GRASSROOTS_COMMITTEE: _l("Grassroots Party committee"),
    UnitKind.GRASSROOTS_CELL: _l("Grassroots Party cell"),
    UnitKind.PARTIAL_COMMITTEE: _l("Partial Party committee"),
    UnitKind.CELL: _l("Party cell"),
}
UNIT_CHANGE_LABELS = {
    UnitChangeKind.FOUNDED: _l("Founded"),
    UnitChangeKind.RENAMED: _l("Renamed"),
    UnitChangeKind.CODE_CHANGED: _l("Code changed"),
    UnitChangeKind.MOVED: _l("Moved under another unit"),
    UnitChangeKind.ABSORBED: _l("Took over a merged unit"),
    UnitChangeKind.MERGED_INTO: _l("Merged into another unit"),
    UnitChangeKind.DISSOLVED: _l("Dissolved"),
}
SEX_LABELS = {Sex.MALE: _l("Male"), Sex.FEMALE: _l("Female")}
STATUS_LABELS = {
    MemberStatus.PROBATIONARY: _l("Probationary"),
    MemberStatus.OFFICIAL: _l("Official"),
    MemberStatus.TRANSFERRED_OUT: _l("Transferred out"),
    MemberStatus.DECEASED: _l("Deceased"),
    MemberStatus.LEFT: _l("Left the Party"),
}
EVENT_KIND_LABELS = {
    EventKind.ADMISSION: _l("Admission"),
    EventKind.READMISSION: _l("Re-admission"),
    EventKind.OFFICIAL_RECOGNITION: _l("Recognition as official member"),
    EventKind.NOT_RECOGNISED: _l("Not recognised as official member"),
    EventKind.TRANSFER_WITHIN: _l("Transfer to another cell (official)"),
    EventKind.TEMPORARY_TRANSFER: _l("Temporary transfer"),
    EventKind.TEMPORARY_RETURN: _l("End of temporary transfer"),
    EventKind.TRANSFER_OUT: _l("Transfer out of this Party organisation"),
    EventKind.TRANSFER_IN: _l("Transfer in from another Party organisation"),
    EventKind.DEATH: _l("Death"),
    EventKind.REMOVAL: _l("Removal from the rolls"),
    EventKind.EXPULSION: _l("Expulsion"),
    EventKind.RESIGNATION: _l("Leaving the Party at own request"),
    EventKind.EXEMPTION: _l("Exemption from Party work and activities"),
    EventKind.SUSPENSION: _l("Suspension of Party activities"),
    EventKind.RESUMPTION: _l("Resumption of Party activities"),
    EventKind.RESTORATION: _l("Restoration of Party membership"),
    EventKind.REVERSAL: _l("Cancellation of a wrongly recorded event"),
}
ACTIVITY_LABELS = {
    Activity.NORMAL: _l("Active"),
    Activity.EXEMPT: _l("Exempted from activities"),
    Activity.SUSPENDED: _l("Suspended"),
}
BIRTH_DATE_PRECISION_LABELS = {
    BirthDatePrecision.DAY: _l("Full date known"),
    BirthDatePrecision.MONTH: _l("Month and year only"),
    BirthDatePrecision.YEAR: _l("Year only"),
}
REPORT_STATE_LABELS = {
    ReportState.QUEUED: _l("Queued"),
    ReportState.RUNNING: _l("Running"),
    ReportState.DONE: _l("Done"),
    ReportState.FAILED: _l("Failed"),
    ReportState.CANCELLED: _l("Cancelled"),
}
# Card and badge proposals share their states' labels (the values are the same words).
PROPOSAL_STATE_LABELS = {
    ProposalState.PROPOSED: _l("Proposed"),
    ProposalState.APPROVED: _l("Approved"),
    ProposalState.REJECTED: _l("Rejected"),
    ProposalState.ISSUED: _l("Issued"),
    ProposalState.REVOKED: _l("Revoked"),
    BadgeProposalState.AWARDED: _l("Awarded"),
}
CARD_REASON_LABELS = {
    CardReason.NEW_OFFICIAL: _l("New official member"),
    CardReason.LOST: _l("Card lost"),
    CardReason.DAMAGED: _l("Card damaged"),
    CardReason.NAME_CHANGE: _l("Name changed"),
}
CARD_STATE_LABELS = {
    CardState.VALID: _l("Valid"),
    CardState.REVOKED: _l("Revoked"),
    CardState.WITHDRAWN: _l("Withdrawn"),
}
BADGE_KIND_LABELS = {
    BadgeProposalKind.AUTOMATIC: _l("Reaches the milestone"),
    BadgeProposalKind.EARLY: _l("Early (serious illness)"),
    BadgeProposalKind.POSTHUMOUS: _l("Posthumous"),
    BadgeProposalKind.REISSUE: _l("Re-issue"),
}

UNIT_COLUMNS = {
    "code": _l("Code"),
    "name": _l("Name"),
    "kind": _l("Kind"),
    "parent": _l("Parent unit"),
    "parent_id": _l("Parent unit"),
    "founded_on": _l("Founded on"),
    "dissolved_on": _l("Dissolved on"),
    "members": _l("Members"),
    "children": _l("Subordinate units"),
}
MEMBER_COLUMNS = {
    "member_number": _l("Member number"),
    "birth_name": _l("Full name at birth"),
    "name_in_use": _l("Name in use"),
    "display_name": _l("Full name"),
    "alias": _l("Alias"),
    "sex": _l("Sex"),
    "birth_date": _l("Date of birth"),
    "birth_date_precision": _l("Date of birth known"),
    "birthplace": _l("Place of birth"),
    "home_town": _l("Home town"),
    "permanent_address": _l("Permanent address"),
    "current_address": _l("Current address"),
    "ethnicity": _l("Ethnicity"),
    "religion": _l("Religion"),
    "citizen_id": _l("Citizen ID"),
    "admitted_on": _l("Admitted on"),
    "admitting_cell": _l("Admitting cell"),
    "introducer_1": _l("First introducer"),
    "introducer_2": _l("Second introducer"),
    "official_on": _l("Official on"),
    "youth_union_on": _l("Joined the Youth Union on"),
    "card_number": _l("Card number"),
    "card_issued_on": _l("Card issued on"),
    "status": _l("Status"),
    "unit": _l("Party cell"),
    "unit_id": _l("Party cell"),
    "search_key": _l("Name or number"),
    "general_education": _l("General education"),
    "professional_level": _l("Professional qualification"),
    "professional_field": _l("Field of study"),
    "academic_title": _l("Academic title"),
    "political_theory": _l("Political theory"),
    "state_management": _l("State management"),
    "foreign_languages": _l("Foreign languages"),
    "it_level": _l("Information technology"),
    "occupation_at_admission": _l("Occupation when admitted"),
    "occupation": _l("Occupation now"),
    "party_position": _l("Position in the Party"),
    "government_position": _l("Position in government and mass organisations"),
    "health": _l("Health"),
    "veteran": _l("Veteran"),
    "war_invalid": _l("War invalid or sick soldier (grade)"),
    "martyr_family": _l("Family of a martyr"),
    "completeness": _l("Record completeness"),
    "missing_fields": _l("Still missing"),
    "host_unit": _l("Temporarily active in"),
    "away": _l("Temporarily active outside"),
    "activity": _l("Activity"),
    "party_age_from": _l("Party age"),
}
EVENT_COLUMNS = {
    "member": _l("Party member"),
    "kind": _l("Event"),
    "effective_on": _l("Date"),
    "decision_number": _l("Decision number"),
    "decision_on": _l("Decision date"),
    "decided_by": _l("Decided by"),
    "from_unit": _l("From unit"),
    "to_unit": _l("To cell"),
    "to_unit_id": _l("To cell"),
    "other_organisation": _l("Other Party organisation"),
    "arriving_as": _l("Arriving as"),
    "reverses": _l("Cancels"),
    "reverses_id": _l("Cancels"),
    "note": _l("Note"),
    "recorded_by": _l("Recorded by"),
    "recorded_at": _l("Recorded at"),
}


COMPLETENESS_LABELS = {
    "incomplete": _l("Incomplete"),
    "one_page": _l("1-page record"),
    "four_page": _l("4-page record"),
}
ROW_LABELS = {
    "work_periods": _l("Work history"),
    "training_courses": _l("Training"),
    "commendations": _l("Commendations"),
    "disciplines": _l("Discipline"),
    "trips_abroad": _l("Trips abroad"),
    "family_relations": _l("Family relations"),
}


def format_date(value: date | None) -> str:
    """Dates are shown dd/mm/yyyy."""
    return value.strftime("%d/%m/%Y") if value else ""


def format_birth_date(value: date | None, precision: str | None) -> str:
    if not value:
        return ""
    if precision == BirthDatePrecision.YEAR:
        return str(value.year)
    if precision == BirthDatePrecision.MONTH:
        return value.strftime("%m/%Y")
    return format_date(value)


def label_for(labels: dict, value: str | None) -> str:
    return str(labels.get(value, value or ""))


# FAB's roles, as the office calls the people who hold them (the names stay the keys).
ROLE_LABELS = {
    "Admin": _l("System administrator"),
    "Clerk": _l("Organisation Commission specialist"),
    "Manager": _l("Commission leadership (approves)"),
    "Leader": _l("Party committee standing member (read-only)"),
    "Sync": _l("Lower-level instance (sync account)"),
    "Public": _l("Not signed in"),
}
# What an audit entry records, and the kind of record it is about.
AUDIT_ACTION_LABELS = {
    "create": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "login": _l("Signed in"),
    "login_failed": _l("Sign-in failed"),
    "login_locked": _l("Sign-in refused: account locked"),
    "login_failed_locked": _l("Sign-in failed: account now locked"),
    "login_second_factor": _l("Signed in with the second factor"),
    "login_second_factor_missing": _l("Sign-in refused: second-factor code missing"),
    "password_ok_second_factor_pending": _l("Password accepted, second factor pending"),
    "second_factor_failed": _l("Wrong second-factor code"),
    "download": _l("Downloaded a file"),
    "export": _l("Exported a file (command line)"),
    "document_attach": _l("Document attached"),
    "document_replace": _l("Document replaced"),
    "document_view": _l("Document opened"),
    "photo_crop": _l("Photo cropped"),
    "photo_upload": _l("Photo uploaded"),
    "photo_view": _l("Photo opened"),
    "transfer_export": _l("Transfer package written for another province"),
    "transfer_import": _l("Member received from another province"),
    "transfer_close": _l("Transfer closed by the receiving province's receipt"),
}
RECORD_TYPE_LABELS = {
    "Member": _l("Party member"),
    "MemberEvent": _l("Member event"),
    "MemberPeriod": _l("Party age period"),
    "MemberChange": _l("Change of a member field"),
    "MemberSupplement": _l("Yearly supplement"),
    "MemberPhoto": _l("Member photo"),
    "MemberDocument": _l("Dossier document"),
    "MemberDocumentVersion": _l("Dossier document version"),
    "DocumentType": _l("Document type"),
    "PhotoBatch": _l("Batch of scanned photos"),
    "PhotoBatchItem": _l("Scanned photo"),
    "WorkPeriod": _l("Work history"),
    "TrainingCourse": _l("Training"),
    "Commendation": _l("Commendation"),
    "Discipline": _l("Discipline"),
    "TripAbroad": _l("Trip abroad"),
    "FamilyRelation": _l("Family relation"),
    "CatalogueEntry": _l("Catalogue entry"),
    "Unit": _l("Organisation unit"),
    "UnitChange": _l("Unit history entry"),
    "PartyCard": _l("Party card"),
    "CardProposal": _l("Card proposal"),
    "CardProposalBatch": _l("Card proposal batch"),
    "CardNumberCounter": _l("Card number sequence"),
    "BadgeMilestone": _l("Badge milestone"),
    "BadgeOccasion": _l("Badge occasion"),
    "BadgeSetting": _l("Badge deferral setting"),
    "BadgeProposal": _l("Badge proposal"),
    "BadgeAward": _l("Party badge award"),
    "ReportRun": _l("Report run"),
    "DangVienUser": _l("User account"),
    "User": _l("User account"),
    "Role": _l("Role"),
}
# FAB's permission names (can_<method> of a view, menu_access of a menu entry).
PERMISSION_LABELS = {
    "can_list": _l("see the list"),
    "can_show": _l("see the details"),
    "can_add": _l("add"),
    "can_edit": _l("edit"),
    "can_delete": _l("delete"),
    "can_get": _l("read (API)"),
    "can_info": _l("read the form description (API)"),
    "can_post": _l("create (API)"),
    "can_put": _l("change (API)"),
    "menu_access": _l("menu entry"),
    "can_this_form_get": _l("open the form"),
    "can_this_form_post": _l("send the form"),
    "can_userinfo": _l("see own details"),
    "can_download": _l("download"),
    "can_print": _l("print"),
    "can_propose": _l("propose"),
    "can_decide": _l("approve or reject"),
    "can_issue": _l("issue"),
    "can_record": _l("record"),
    "can_cancel": _l("cancel"),
    "can_reissue": _l("re-issue"),
    "can_request": _l("request"),
    "can_status": _l("follow the progress"),
    "can_upload": _l("upload"),
    "can_replace": _l("replace"),
    "can_crop": _l("crop"),
    "can_tree": _l("see the tree"),
    "can_roll": _l("see the roll"),
    "can_round": _l("prepare the round"),
    "can_setup": _l("set up"),
    "can_apply": _l("apply"),
    "can_attach": _l("attach"),
    "can_award": _l("award"),
    "can_chart": _l("see the chart"),
    "can_merge": _l("merge"),
    "can_dissolve": _l("dissolve"),
    "can_move": _l("move"),
    "can_rename": _l("rename"),
    "can_quality": _l("see the quality analysis on screen"),
    "can_members": _l("see the members behind a figure"),
    "can_screen": _l("see the reports on screen"),
    "can_refresh": _l("check again"),
    "can_settings": _l("change the settings"),
    "can_push": _l("send data packages"),
    "can_configure": _l("set up"),
    "copyrole": _l("copy a role"),
    "resetmypassword": _l("change own password"),
    "resetpasswords": _l("reset passwords"),
    "userinfoedit": _l("edit own details"),
}


def show_related(value) -> str:
    """A related record or a list of them as a reader sees it: blank for none, names
    joined by commas (not Python's None, [] or [Admin]); roles by their label."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ", ".join(show_related(one) for one in value)
    if type(value).__name__ == "Role":
        return label_for(ROLE_LABELS, value.name)
    return str(value)


ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def format_stored_value(value: str | None) -> str:
    """A value as the field history stores it (text; dates ISO), shown as a reader writes
    it: dates dd/mm/yyyy."""
    if not value:
        return ""
    match = ISO_DATE.match(value)
    return f"{match[3]}/{match[2]}/{match[1]}" if match else value


# The background job queues (jobs/__init__.py QUEUE_NAMES), as the jobs screen names them.
QUEUE_LABELS = {
    "reports": _l("Reports"),
    "photos": _l("Photos and scans"),
    "imports": _l("Imports"),
    "sync": _l("Synchronisation"),
    "default": _l("Other jobs"),
}

# Views FAB names its permissions after that have no title of their own to borrow.
VIEW_LABELS = {
    "TotpView": _l("Second factor"),
    "MenuApi": _l("Menu (API)"),
    "OpenApi": _l("API description (OpenAPI)"),
    "SwaggerView": _l("API explorer"),
    "ResetMyPasswordView": _l("Change own password"),
    "ResetPasswordView": _l("Reset a user's password"),
    "UserInfoEditView": _l("Edit own details"),
    "DocumentFileApi": _l("Dossier document files (API)"),
    "MemberDocumentApi": _l("Dossier documents (API)"),
    "MemberDocumentView": _l("Scanned dossier"),
    "MemberPhotoApi": _l("Member photos (API)"),
    "MemberPhotoView": _l("Member photo"),
    "PhotoBatchView": _l("Photo batches"),
    "BadgeRoundView": _l("Party badge round"),
    "BadgeProposalApi": _l("Badge proposals (API)"),
    "CardProposalApi": _l("Card proposals (API)"),
    "UserStatsChartView": _l("User statistics"),
    "SyncApi": _l("Packages from lower levels (API)"),
    "SyncStatusView": _l("Data exchange between levels"),
}


def format_yes_no(value: bool | None) -> str:
    if value is None:
        return ""
    return str(_l("Yes") if value else _l("No"))


def format_timestamp(value) -> str:
    """A moment, as the office writes it: dd/mm/yyyy hh:mm."""
    return value.strftime("%d/%m/%Y %H:%M") if value else ""

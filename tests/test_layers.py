"""The layers hold at run time too: importing the models installs no hook (create_app does,
once however often it runs), and the report job is found by the name the queue is given.
The import contracts themselves are checked by `lint-imports` (bin/test)."""

import subprocess
import sys

from rq.utils import import_attribute
from sqlalchemy import select

from conftest import ROOT
from factories import make_member, make_tree
from jobs.reports import render_report
from webapp import create_app
from webapp.models import AuditEntry, MemberChange
from webapp.reports.runs import RENDER_JOB


def test_importing_the_models_installs_no_session_hook():
    script = (
        "import webapp.models\n"
        "from sqlalchemy import event\n"
        "from webapp.domain.tracking import HOOKS\n"
        "print(sum(event.contains(*hook) for hook in HOOKS))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_a_second_app_does_not_install_the_hooks_twice(app, db_session):
    create_app()
    unit = make_tree(db_session)["C1"]
    member = make_member(db_session, unit, birth_name="Trần Văn Bình")
    db_session.commit()
    assert member.sort_key and member.search_key.startswith("tran van binh")
    member.occupation = "Giáo viên"
    db_session.commit()
    changes = db_session.scalars(
        select(MemberChange).where(MemberChange.member_id == member.id)
    ).all()
    assert [(c.field, c.new_value) for c in changes] == [("occupation", "Giáo viên")]
    updates = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "Member",
            AuditEntry.object_id == str(member.id),
            AuditEntry.action == "update",
        )
    ).all()
    assert len(updates) == 1


def test_the_report_job_is_found_by_its_name():
    assert import_attribute(RENDER_JOB) is render_report

"""Users from the command line: one at a time, or a whole list of communes from CSV."""

from factories import make_tree
from webapp.models import DangVienUser


def test_users_create_and_import(app, db_session, tmp_path):
    make_tree(db_session)
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["users", "create", "--username", "cv_huyen1", "--role", "Clerk", "--unit", "P.01"]
    )
    assert created.exit_code == 0 and "password:" in created.output
    user = db_session.query(DangVienUser).filter_by(username="cv_huyen1").one()
    assert user.unit.code == "P.01" and [r.name for r in user.roles] == ["Clerk"]

    no_unit = runner.invoke(args=["users", "create", "--username", "x", "--role", "Leader"])
    assert no_unit.exit_code != 0 and "scope unit" in no_unit.output

    good = tmp_path / "users.csv"
    good.write_text(
        "username,role,unit,full_name\nbt_xa1,Leader,P.01.001,Nguyễn Văn Bí Thư\ncv_xa2,Clerk,P.02.001,\n",
        encoding="utf-8",
    )
    imported = runner.invoke(args=["users", "import", str(good)])
    assert imported.exit_code == 0, imported.output
    assert (
        imported.output.splitlines()[0] == '"username","password"'  # every text field quoted
        and len(imported.output.splitlines()) == 3
    )
    assert db_session.query(DangVienUser).filter_by(username="bt_xa1").one().unit.code == "P.01.001"

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "username,role,unit\nok_user,Clerk,P.01\nbad_user,Clerk,NOPE\n", encoding="utf-8"
    )
    refused = runner.invoke(args=["users", "import", str(bad)])
    assert refused.exit_code != 0 and "line 3" in refused.output
    assert (
        db_session.query(DangVienUser).filter_by(username="ok_user").first() is None
    )  # all or nothing

from factories import make_tree, make_member, SYSTEM
from webapp.domain.members import create_member
from webapp.models import Member
from conftest import login

def test_scratch(app, admin_client, db_session, api_token):
    tree = make_tree(db_session)
    m = Member(member_number="000777TN", birth_name="Lê Văn B", sex="male", birth_date=__import__("datetime").date(1980,1,1), admitted_on=__import__("datetime").date(2005,1,1), status="probationary", unit=tree["C1"])
    create_member(db_session, SYSTEM, m, member_number_pattern=r"\d{6}[A-Z]{1,3}")
    r = admin_client.post(f"/membermodelview/delete/{m.id}", follow_redirects=True)
    import re
    print(r.status_code, re.findall(r'alert[^>]*>(.*?)</div', r.text, re.S))
    r = admin_client.delete(f"/api/v1/members/{m.id}", headers={"Authorization": f"Bearer {api_token}"})
    print(r.status_code, r.text)
    r = admin_client.get(f"/membermodelview/list/")
    print(r.text.count("fa-trash"), "trash")
    r = admin_client.get(f"/membermodelview/show/{m.id}")
    print(r.text.count("fa-trash"), "trash show")
    open("/tmp/h13a/show.html","w").write(r.text)

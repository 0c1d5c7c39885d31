"""Three tiers on one machine (issue 15): a district instance sends its packages up to the
province, the province forwards them to the centre. Each is its own database, its own web
server on loopback and its own real RQ worker; set up with the commands of docs/sync.md.

The scenarios run in order on the same three instances (each builds on what the previous
ones left, as a real deployment does): the normal flow, the same package twice, a package
lost in the middle, the upstream down during the push, a tampered package, the USB round
trip, and a downstream sending a unit it does not own. After each, the upstream's data for
the district's subtree equals the district's own: a content hash per member, compared on
both sides (`flask sync hashes`)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import requests
from instances import Instance, start_instances

KEY = re.compile(r"dvk1:[A-Za-z0-9_-]+")
PROVINCE, DISTRICT = "P", "P.01"


def key_of(result) -> str:
    (key,) = KEY.findall(result.stdout)
    return key


def password_of(result) -> str:
    return re.search(r"Password \(shown once\): (\S+)", result.stdout).group(1)


@pytest.fixture(scope="module")
def tiers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiers")
    instances = start_instances(["district", "province", "centre"], folder)
    district, province, centre = (instances[n] for n in ("district", "province", "centre"))
    try:
        for instance in instances.values():
            instance.start()
        # The trees as each level keeps them: the centre the province, the province itself
        # and the district's root, the district its own subtree.
        centre.create(
            "/units/",
            {"code": PROVINCE, "name": "Đảng bộ tỉnh Thử", "kind": "provincial_committee"},
        )
        p = province.create(
            "/units/",
            {"code": PROVINCE, "name": "Đảng bộ tỉnh Thử", "kind": "provincial_committee"},
        )
        province.create(
            "/units/",
            {
                "code": DISTRICT,
                "name": "Đảng bộ huyện Một",
                "kind": "upper_grassroots_committee",
                "parent": p,
            },
        )
        d = district.create(
            "/units/",
            {"code": DISTRICT, "name": "Đảng bộ huyện Một", "kind": "upper_grassroots_committee"},
        )
        g = district.create(
            "/units/",
            {
                "code": "P.01.001",
                "name": "Đảng bộ xã Một",
                "kind": "grassroots_committee",
                "parent": d,
            },
        )
        cell = district.create(
            "/units/",
            {"code": "P.01.001.01", "name": "Chi bộ thôn Đông", "kind": "cell", "parent": g},
        )
        # docs/sync.md, step by step: identities, then each pair by its keys.
        centre_key = key_of(centre.flask("sync", "init"))
        province_key = key_of(province.flask("sync", "init", "--unit", PROVINCE))
        district_key = key_of(district.flask("sync", "init", "--unit", DISTRICT))
        added = centre.flask("sync", "downstream", "add", "--unit", PROVINCE, "--key", province_key)
        province.flask(
            "sync",
            "upstream",
            "set",
            "--unit",
            "TW",
            "--key",
            centre_key,
            "--url",
            centre.url,
            "--user",
            "sync-p",
            "--password",
            password_of(added),
        )
        added = province.flask(
            "sync", "downstream", "add", "--unit", DISTRICT, "--key", district_key
        )
        district.flask(
            "sync",
            "upstream",
            "set",
            "--unit",
            PROVINCE,
            "--key",
            province_key,
            "--url",
            province.url,
            "--user",
            "sync-p.01",
            "--password",
            password_of(added),
        )
        yield {
            "district": district,
            "province": province,
            "centre": centre,
            "cell": cell,
            "keys": {"centre": centre_key, "province": province_key, "district": district_key},
            "folder": folder,
        }
    finally:
        for instance in instances.values():
            instance.drop()


def add_member(instance: Instance, cell: int, number: str, name: str, **fields) -> int:
    return instance.create(
        "/members/",
        {
            "member_number": number,
            "birth_name": name,
            "sex": fields.pop("sex", "female"),
            "birth_date": "1985-04-30",
            "admitted_on": "2010-09-02",
            "official_on": "2011-09-02",
            "status": "official",
            "unit": cell,
            **fields,
        },
    )


def push(instance: Instance, *, queued: bool = True, check: bool = True):
    """Export now, as the scheduled job does: queued on the sync queue, run by a worker."""
    if not queued:
        return instance.flask("sync", "push", check=check)
    instance.flask("sync", "push", "--queue")
    return instance.worker_burst("sync")


def assert_same_members(lower: Instance, upper: Instance, *, at_least: int) -> None:
    mine = lower.hashes()
    theirs = upper.hashes(DISTRICT)
    assert len(mine) >= at_least
    assert theirs == mine


def test_normal_flow_district_to_province_to_centre(tiers):
    district, province, centre = tiers["district"], tiers["province"], tiers["centre"]
    add_member(district, tiers["cell"], "100001TN", "Nguyễn Thị Một")
    second = add_member(district, tiers["cell"], "100002TN", "Trần Văn Hai", sex="male")
    recorded = district.api(
        "POST",
        "/events/",
        json={"member": second, "kind": "death", "effective_on": "2024-05-05"},
    )
    assert recorded.status_code == 201, recorded.text
    push(district)
    assert_same_members(district, province, at_least=2)
    push(province)
    assert_same_members(district, centre, at_least=2)
    status = district.flask("sync", "status").stdout
    assert "delivered" in status.lower(), status


def _district_password(tiers) -> str:
    import json

    account = tiers["district"].folder / "data" / "sync" / "upstream-account.json"
    return json.loads(account.read_text())["password"]


def _post(tiers, instance: Instance, data: bytes) -> requests.Response:
    """A package posted by hand with the district's Sync account, as its push does."""
    token = instance.token("sync-p.01", _district_password(tiers))
    return requests.post(
        f"{instance.url}/api/v1/sync/packages",
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
        timeout=60,
    )


def _file(result) -> Path:
    (path,) = re.findall(r"(/\S+\.dvpkg)", result.stdout)
    return Path(path)


def test_the_same_package_twice_changes_nothing(tiers):
    district, province = tiers["district"], tiers["province"]
    add_member(district, tiers["cell"], "100003TN", "Lê Thị Ba")
    copy = _file(district.flask("export", "--out", str(tiers["folder"] / "copies")))
    push(district)  # delivers that package (it was pending)
    before = province.hashes(DISTRICT)
    assert "100003TN" in before
    again = _post(tiers, province, copy.read_bytes())
    assert again.status_code == 200, again.text
    assert again.headers["X-Sync-State"] == "duplicate"
    assert province.hashes(DISTRICT) == before


def test_a_lost_package_is_named_then_healed_by_a_resend(tiers):
    district, province = tiers["district"], tiers["province"]
    province.stop()
    add_member(district, tiers["cell"], "100004TN", "Phạm Văn Bốn", sex="male")
    assert push(district, queued=False, check=False).returncode != 0  # upstream down
    add_member(district, tiers["cell"], "100005TN", "Hoàng Thị Năm")
    assert push(district, queued=False, check=False).returncode != 0
    province.start()
    pending = re.findall(r"pending:\s+#(\d+)", district.flask("sync", "status").stdout)
    assert len(pending) == 2, pending
    lost, latest = (int(n) for n in pending)
    later = _file(
        district.flask("sync", "resend", str(latest), "--out", str(tiers["folder"] / "r"))
    )
    refused = _post(tiers, province, later.read_bytes())
    assert refused.status_code == 422, refused.text
    assert str(lost) in refused.json()["message"]
    assert "100005TN" not in province.hashes(DISTRICT)
    # The next push sends what is pending, in order: the gap heals.
    push(district)
    assert_same_members(district, province, at_least=5)


def test_upstream_down_during_the_push_is_retried_and_nothing_is_lost(tiers):
    district, province = tiers["district"], tiers["province"]
    add_member(district, tiers["cell"], "100006TN", "Vũ Văn Sáu", sex="male")
    province.stop()
    district.flask("sync", "push", "--queue")
    district.worker_burst("sync")  # fails: RQ schedules the job again (SYNC_RETRY_INTERVALS)
    status = district.flask("sync", "status").stdout
    assert "pending" in status, status
    province.start()
    push(district)
    assert_same_members(district, province, at_least=6)
    assert "pending" not in district.flask("sync", "status").stdout


def test_a_tampered_package_is_refused_and_shown_on_both_sides(tiers):
    district, province = tiers["district"], tiers["province"]
    add_member(district, tiers["cell"], "100007TN", "Đỗ Thị Bảy")
    genuine = _file(district.flask("export", "--out", str(tiers["folder"] / "t")))
    data = bytearray(genuine.read_bytes())
    data[len(data) // 2] ^= 0x01
    refused = _post(tiers, province, bytes(data))
    assert refused.status_code == 422, refused.text
    assert "chữ ký" in refused.json()["message"].lower()
    assert "refused" in province.flask("sync", "status").stdout
    assert "100007TN" not in province.hashes(DISTRICT)
    push(district)  # the genuine one goes through
    assert_same_members(district, province, at_least=7)


def test_usb_round_trip_through_a_folder_with_its_receipt(tiers):
    province, centre, district = tiers["province"], tiers["centre"], tiers["district"]
    stick = tiers["folder"] / "usb"
    province.flask(
        "sync",
        "upstream",
        "set",
        "--unit",
        "TW",
        "--key",
        tiers["keys"]["centre"],
        "--folder",
        str(stick),
    )
    result = province.flask("sync", "push")
    (written,) = [Path(p) for p in re.findall(r"Written to (\S+):", result.stdout)]
    receipts = tiers["folder"] / "receipts"
    imported = centre.flask("import", str(written), "--receipt-out", str(receipts))
    assert "applied" in imported.stdout.lower(), imported.stdout
    (receipt,) = receipts.iterdir()
    province.flask("sync", "receipt", str(receipt))
    assert_same_members(district, centre, at_least=7)
    again = centre.flask("import", str(written), "--receipt-out", str(receipts), check=False)
    assert again.returncode == 0 and "applied before" in again.stdout, again.stdout
    shutil.rmtree(stick)


def test_a_downstream_sending_a_unit_it_does_not_own_is_refused(tiers):
    from sqlalchemy import create_engine, text

    district, province = tiers["district"], tiers["province"]
    before = province.hashes(DISTRICT)
    # A unit beside the district's own root, with a member: outside its subtree, so its
    # own pushes leave it out ...
    stray = district.create(
        "/units/",
        {"code": "P.02", "name": "Đảng bộ huyện Hai", "kind": "upper_grassroots_committee"},
    )
    cell = district.create(
        "/units/",
        {"code": "P.02.001", "name": "Chi bộ Lạc", "kind": "grassroots_cell", "parent": stray},
    )
    add_member(district, cell, "100099TN", "Người Ngoài")
    assert "Nothing changed" in district.flask("sync", "push").stdout
    # ... unless the instance was given the wrong unit as its identity (as if `sync init`
    # had named P.02): its full package then holds units the province never gave it.
    engine = create_engine(district.database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE sync_identity SET unit_id = :unit, unit_code = 'P.02'"), {"unit": stray}
        )
    engine.dispose()
    result = district.flask("sync", "push", "--full", check=False)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "P.02" in result.stdout
    assert province.hashes(DISTRICT) == before
    assert "100099TN" not in province.hashes()
    assert "refused" in district.flask("sync", "status").stdout
    assert "refused" in province.flask("sync", "status").stdout

"""A Clerk in Chromium: uploads a member's photo, sees it processed, moves the crop box
with the mouse, saves, and the header shows the new crop (real worker between steps)."""

from __future__ import annotations

import io

import photo_samples as samples
import pytest
from PIL import Image
from test_browser import ARTIFACTS, browser_page, live_server  # noqa: F401 - fixtures

from conftest import run_worker_burst
from factories import make_member, make_tree
from webapp.cli import create_user

PASSWORD = "Browser-Photo-123"


def thumb_colour(page, base: str, x: float) -> tuple[int, int, int]:
    """The colour at (x, 0.25) of the header's thumbnail, as the browser fetches it."""
    src = page.locator("#member-photo").get_attribute("src")
    response = page.request.get(base + src)
    assert response.status == 200
    image = Image.open(io.BytesIO(response.body())).convert("RGB")
    return image.getpixel((int(x * image.width), int(0.25 * image.height)))


def near(colour, expected, tolerance=45) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


@pytest.mark.browser
def test_clerk_uploads_sees_it_processed_moves_the_crop_and_saves(
    app,
    db_session,
    redis_conn,
    live_server,  # noqa: F811
    browser_page,  # noqa: F811
    tmp_path,
):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Phạm Thị Ảnh")
    db_session.commit()
    create_user("clerk_photo", "Clerk", "P.01", PASSWORD)
    page, base = browser_page, live_server
    # A square picture: red left half, green right half (top), so the crop's position
    # shows in the colours of the photo.
    picture = tmp_path / "anh-the.jpg"
    picture.write_bytes(samples.jpeg(samples.quadrants(800, 800)))

    page.goto(f"{base}/login/")
    page.locator("input#username").fill("clerk_photo")
    page.locator("input#password").fill(PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()

    page.goto(f"{base}/membermodelview/show/{member.id}")
    expect(page.locator("#member-header-name")).to_contain_text("Phạm Thị Ảnh")
    expect(page.locator("#member-photo-none")).to_be_visible()
    page.locator("#photo-file-input").set_input_files(str(picture))
    page.locator("#photo-upload").click()
    expect(page.locator("#photo-state")).to_have_attribute("data-state", "queued")
    assert run_worker_burst().returncode == 0
    # The page polls: the state turns done and the thumbnail appears without a reload.
    expect(page.locator("#photo-state")).to_have_attribute("data-state", "done", timeout=20_000)
    expect(page.locator("#member-photo")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "photo-processed.png"), full_page=True)
    # The automatic crop is the centred 600×800 box: the middle of the photo is the
    # red/green border, so at 60% across it is green.
    assert near(thumb_colour(page, base, 0.6), samples.QUADRANTS["top_right"])

    page.locator("#photo-crop-link").click()
    expect(page.locator("#crop-image[data-ready='1']")).to_have_count(1)
    assert page.locator("#crop-left").input_value() == "100"
    face = page.locator(".cropper-face").bounding_box()
    # Drag the box to the left edge with the mouse (the cropper keeps it inside).
    page.mouse.move(face["x"] + face["width"] / 2, face["y"] + face["height"] / 2)
    page.mouse.down()
    page.mouse.move(face["x"] - 200, face["y"] + face["height"] / 2, steps=8)
    page.mouse.up()
    assert page.locator("#crop-left").input_value() == "0"
    assert page.locator("#crop-width").input_value() == "600"
    # A full-page screenshot resizes the viewport, as a person resizing the window does:
    # the box on the form must stay the one on screen.
    page.screenshot(path=str(ARTIFACTS / "photo-crop.png"), full_page=True)
    assert page.locator("#crop-left").input_value() == "0"
    assert page.locator("#crop-width").input_value() == "600"
    page.set_viewport_size({"width": 900, "height": 700})
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.locator("#crop-width").input_value() == "600"
    page.locator("#crop-save").click()

    expect(page.locator("#member-file-header")).to_be_visible(timeout=20_000)
    expect(page.locator("#photo-state")).to_have_attribute("data-state", "queued")
    old_version = page.locator("#member-photo").get_attribute("data-version")
    assert run_worker_burst().returncode == 0
    expect(page.locator("#photo-state")).to_have_attribute("data-state", "done", timeout=20_000)
    expect(page.locator("#member-photo")).not_to_have_attribute("data-version", old_version)
    page.screenshot(path=str(ARTIFACTS / "photo-recropped.png"), full_page=True)
    # The box now starts at the left edge: the border is at 400 of 600 px, so 60% across
    # is red now.
    assert near(thumb_colour(page, base, 0.6), samples.QUADRANTS["top_left"])

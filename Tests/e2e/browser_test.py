#!/usr/bin/env python3
"""Drives the dashboard in headless Chromium the way a person would, against a running Phim in demo
mode (simulator finishing jobs in about 3 s: PHIM_SIMULATOR_DELAY_SECONDS=3).

Usage: python3 Tests/e2e/browser_test.py --base-url http://127.0.0.1:PORT [--screenshots DIR]

Each step prints one line and saves a PNG; the run ends with "N passed, N failed" and exits non-zero
on any failure. Needs Debian's chromium and chromium-driver and PyPI's selenium. The steps find
elements by ids, data-testid and data-action, never by wording; words are compared with the values in
public/i18n/*.json. The demo account (demo@phim.local, 100,000 credits) makes the videos: about 28,000
credits a run (four videos kept, two of them one ×2 batch; the failed ones are refunded).
"""
import argparse
import json
import os
import secrets
import struct
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib

from selenium.common.exceptions import NoAlertPresentException, TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_support import PAGE_SHOWN_JS, Failed, chrome, expect, load_words, run_steps  # noqa: E402

DEMO_EMAIL = "demo@phim.local"
DEMO_PASSWORD = "phim-demo"
JOB_TIMEOUT = 20      # seconds for a video to finish (the simulator takes about 3)
UI_TIMEOUT = 10       # seconds for the page to react




VI = load_words("vi")
EN = load_words("en")


def png(width, height):
    """A real PNG (a warm gradient) for the image-to-video upload, made with zlib and struct."""
    rows = b"".join(b"\x00" + bytes(channel for x in range(width)
                                    for channel in (255, 120 + x * 100 // width, 60 + y * 150 // height))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")




class Browser:
    """The browser, with the few gestures the steps need."""

    def __init__(self, base, shots):
        self.base = base.rstrip("/")
        self.shots = shots
        self.driver = chrome(("--autoplay-policy=no-user-gesture-required",))
        self.console = []

    # --- navigation and lookup
    def open(self, path):
        self.driver.get(self.base + path)
        self.wait_ready()

    def path(self):
        return urllib.parse.urlparse(self.driver.current_url).path

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, condition, seconds=UI_TIMEOUT, message="timed out"):
        """Waits until condition() is truthy and returns it; fails the step with message otherwise."""
        def attempt(_):
            try:
                return condition()
            except WebDriverException:
                return None
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.1).until(attempt)
        except TimeoutException:
            raise Failed(f"{message} (after {seconds} s)") from None

    def wait_ready(self):
        self.wait(lambda: self.js(PAGE_SHOWN_JS), message="the page never became ready")

    def wait_gallery(self):
        self.wait_ready()
        self.wait(lambda: self.js("var l = document.getElementById('gallery-loading'); return !!l && l.hidden;"),
                  message="the gallery never finished loading")

    def text(self, css):
        return self.js("var e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;", css)

    def balance(self):
        """(available, on hold) as the header holds them, raw numbers."""
        values = self.js("""var a = document.getElementById('balance-available'), h = document.getElementById('balance-held');
                            return [a && a.dataset.value, h && h.dataset.value];""")
        return tuple(int(v) if v not in (None, "") else None for v in values)

    def api(self, path):
        """GETs a JSON answer from the page, with its cookie (None when it fails)."""
        return self.driver.execute_async_script("""
            var done = arguments[arguments.length - 1];
            fetch(arguments[0], {credentials: 'same-origin', cache: 'no-store', headers: {'Accept': 'application/json'}})
              .then(function (r) { return r.ok ? r.json() : null; }).then(done, function () { done(null); });""", path)

    def shot(self, name):
        os.makedirs(self.shots, exist_ok=True)
        self.driver.save_screenshot(os.path.join(self.shots, name + ".png"))

    def collect_console(self):
        try:
            self.console += self.driver.get_log("browser")
        except WebDriverException:
            pass

    # --- gestures
    def sign_in(self, email, password):
        self.open("/signin")
        self.find("#email").clear()
        self.find("#email").send_keys(email)
        self.find("#password").clear()
        self.find("#password").send_keys(password)
        self.find("#signin-submit").click()

    def sign_out(self):
        self.find("#signout").click()
        self.wait(lambda: self.path() == "/signin", message="sign out did not lead to /signin")
        self.wait_ready()

    def card_ids(self):
        return self.js("return Array.prototype.map.call(document.querySelectorAll('#gallery .card'), function (c) { return c.dataset.id; });")

    def card(self, video_id, css=""):
        return self.js("var c = document.getElementById('video-' + arguments[0]); return c && arguments[1] ? c.querySelector(arguments[1]) : c;",
                       video_id, css)

    def card_status(self, video_id):
        return self.js("var c = document.getElementById('video-' + arguments[0]); return c ? c.dataset.status : null;", video_id)

    def choose(self, name, value):
        self.find(f'input[name="{name}"][value="{value}"]').find_element(By.XPATH, "..").click()

    def submit(self, prompt, image=None, duration="10", aspect="landscape", tier="standard"):
        """Fills the composer and sends it; returns the id of the card that appears at the top."""
        box = self.find("#prompt")
        box.clear()
        box.send_keys(prompt)
        self.choose("duration", duration)
        self.choose("aspect_ratio", aspect)
        Select(self.find("#tier")).select_by_value(tier)
        if image:
            self.find("#image-input").send_keys(image)
            self.wait(lambda: self.find("#attachment").is_displayed(), message="the chosen image did not show as a preview")
        before = set(self.card_ids())
        self.wait(lambda: self.find("#submit").is_enabled(), message="the submit button stayed disabled")
        self.find("#submit").click()
        new_id = self.wait(lambda: next((i for i in self.card_ids() if i not in before), None),
                           message="no new card appeared after submitting")
        expect(self.card_ids()[0] == new_id, "the new card is not at the top of the gallery")
        return new_id

    def wait_status(self, video_id, statuses, seconds=JOB_TIMEOUT):
        return self.wait(lambda: self.card_status(video_id) if self.card_status(video_id) in statuses else None, seconds,
                         f"video {video_id} did not reach {statuses} (last: {self.card_status(video_id)})")

    def wait_video(self, video_id, seconds=JOB_TIMEOUT):
        """Waits for the card's <video> to get its src (the job completed, seen without a reload)."""
        return self.wait(lambda: self.js("var v = document.querySelector('#video-' + CSS.escape(arguments[0]) + ' video');"
                                         "return v && v.getAttribute('src') ? v.getAttribute('src') : null;", video_id),
                         seconds, f"video {video_id} never got a playable <video> (status {self.card_status(video_id)})")

    def quit(self):
        self.driver.quit()


def bearer_status(base, key):
    request = urllib.request.Request(base + "/api/v1/me", headers={"Authorization": f"Bearer {key}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# ---------------------------------------------------------------------------------------------- steps

def step_signup(b, state):
    b.open("/signup")
    expect(b.js("return document.documentElement.lang") == "vi", "the sign-up page is not Vietnamese by default")
    email = f"e2e-{secrets.token_hex(5)}@phim.test"
    b.find("#email").send_keys(email)
    b.find("#password").send_keys("mat-khau-" + secrets.token_hex(4))
    b.find("#signup-submit").click()
    b.wait(lambda: b.path() == "/", message=f"sign-up did not land in the studio (at {b.path()}, error: {b.text('#form-error')!r})")
    b.wait_gallery()
    expect(b.text(".submit-label") == VI["composer.submit"], f"submit label {b.text('.submit-label')!r} is not vi.json's")
    expect(b.text("#nav a[aria-current=page]") == VI["nav.studio"], "the studio's nav entry is not marked, or not Vietnamese")
    b.wait(lambda: b.balance() == (0, 0), message=f"a new account should show 0 credits, shows {b.balance()}")
    expect(b.find("#empty").is_displayed(), "a new account does not see the empty state")
    expect(b.text("#user-email") == email, "the header does not name the signed-in account")
    state["fresh_email"] = email


def step_signin_error(b, state):
    b.sign_out()
    b.sign_in(DEMO_EMAIL, "wrong-password")
    b.wait(lambda: b.find("#form-error").is_displayed() and b.text("#form-error"), message="a wrong password shows no error")
    expect(b.path() == "/signin", "a wrong password left the sign-in page")


def step_signin_demo(b, state):
    b.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    b.wait(lambda: b.path() == "/", message=f"the demo account did not reach the studio ({b.text('#form-error')!r})")
    b.wait_gallery()
    available, held = b.wait(lambda: b.balance() if b.balance()[0] is not None else None, message="the balance never showed")
    expect(available >= 35000, f"the demo account has too few credits for the video steps: {available}")
    expect(b.text("#balance-available") not in ("", "…"), "the balance chip shows no number")
    price = b.wait(lambda: b.find("#price-amount").get_attribute("data-value"), message="the composer shows no price")
    expect(int(price) > 0, f"the price is {price}")


def step_text_to_video(b, state):
    b.js("window.__phimNoReload = 'still here';")
    video_id = b.submit("Một chiếc thuyền giấy trôi trên vũng nước lúc hoàng hôn, máy quay chậm")
    state["t2v"] = video_id
    expect(b.card_status(video_id) in ("submitting", "pending", "processing", "completed"), f"odd first status {b.card_status(video_id)}")
    src = b.wait_video(video_id)
    expect(b.js("return window.__phimNoReload") == "still here", "the page reloaded while the video was made")
    expect(b.card_status(video_id) == "completed", "the card with a video is not marked completed")
    download = b.card(video_id, 'a[data-action="download"]')
    expect(download is not None and download.get_attribute("download") is not None, "the finished card has no download link")
    expect(download.get_attribute("href").endswith(src) or download.get_attribute("href") == b.js(
        "return document.querySelector('#video-' + CSS.escape(arguments[0]) + ' video').src", video_id), "download does not point at the video")
    playable = b.wait(lambda: b.js("""
        var v = document.querySelector('#video-' + CSS.escape(arguments[0]) + ' video');
        if (!v) return false;
        if (!v.dataset.tried) { v.dataset.tried = '1'; v.muted = true; var p = v.play(); if (p && p.catch) p.catch(function () {}); }
        return v.readyState >= 2 || v.duration > 0;""", video_id), 15, "the finished video never became playable")
    expect(playable, "the video cannot play")
    b.js("var v = document.querySelector('#video-' + CSS.escape(arguments[0]) + ' video'); v.pause();", video_id)


def step_image_to_video(b, state):
    path = os.path.join(state["work"], "reference.png")
    with open(path, "wb") as handle:
        handle.write(png(320, 180))
    # The preview and its remove button first.
    b.find("#image-input").send_keys(path)
    b.wait(lambda: b.find("#attachment").is_displayed(), message="the chosen image did not show as a preview")
    expect(b.js("return document.getElementById('attachment-preview').src.indexOf('blob:') === 0"), "the preview is not a local blob")
    b.find("#remove-image").click()
    expect(not b.find("#attachment").is_displayed(), "remove did not take the image away")
    video_id = b.submit("Ánh nắng chiếu qua khung cửa, bụi bay lơ lửng", image=path)
    state["i2v"] = video_id
    expect(b.card(video_id).get_attribute("data-mode") == "image_to_video", "the card is not an image-to-video one")
    b.wait_video(video_id)
    expect(not b.find("#attachment").is_displayed(), "the composer kept the image after sending")


# A 400x300 (4:3) image made in the page and dropped on the composer as a file would be.
DROP_IMAGE = """
    var done = arguments[arguments.length - 1];
    var canvas = document.createElement('canvas');
    canvas.width = 400; canvas.height = 300;
    var g = canvas.getContext('2d');
    g.fillStyle = '#204060'; g.fillRect(0, 0, 400, 300);
    g.fillStyle = '#ff7a59'; g.fillRect(150, 100, 100, 100);
    canvas.toBlob(function (blob) {
      var file = new File([blob], 'dropped.png', {type: 'image/png'});
      var data = new DataTransfer();
      data.items.add(file);
      var form = document.getElementById('composer');
      form.dispatchEvent(new DragEvent('dragenter', {bubbles: true, cancelable: true, dataTransfer: data}));
      form.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: data}));
      var highlighted = form.classList.contains('dragging');
      form.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: data}));
      done({highlighted: highlighted, after: form.classList.contains('dragging')});
    }, 'image/png');"""


def preview_size(b):
    return b.js("var i = document.getElementById('attachment-preview'); return i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight, document.getElementById('attachment-name').textContent] : null;")


def step_drop_crop(b, state):
    b.open("/")
    b.wait_gallery()
    b.choose("aspect_ratio", "landscape")
    dropped = b.driver.execute_async_script(DROP_IMAGE)
    expect(dropped["highlighted"] and not dropped["after"], f"the composer's drop highlight: {dropped}")
    b.wait(lambda: b.find("#attachment").is_displayed(), message="the dropped image did not show as a preview")
    b.wait(lambda: preview_size(b), message="the dropped image's preview never loaded")
    expect(preview_size(b)[:2] == [400, 300], f"the preview is {preview_size(b)}")
    b.wait(lambda: b.find("#ratio-note").is_displayed(), message="a 4:3 image in a 16:9 frame shows no note")
    expect(b.text("#ratio-text") == VI["composer.ratio_landscape"].replace("{width}", "400").replace("{height}", "300"),
           f"the note reads {b.text('#ratio-text')!r}")
    b.shot("05b-ratio-note")
    b.find("#crop-image").click()
    size = b.wait(lambda: preview_size(b) if preview_size(b) and preview_size(b)[1] != 300 else None, message="cropping did not replace the image")
    expect(abs(size[0] / size[1] - 16 / 9) < 0.01 and size[0] == 400, f"the landscape crop is {size}")
    expect(not b.find("#ratio-note").is_displayed(), "the note stayed after cropping")
    # Switching the frame checks again; the portrait crop is 9:16.
    b.choose("aspect_ratio", "portrait")
    b.wait(lambda: b.find("#ratio-note").is_displayed(), message="switching to portrait shows no note for a 16:9 image")
    expect(b.text("#ratio-text").startswith(VI["composer.ratio_portrait"].split("{")[0]), f"the note reads {b.text('#ratio-text')!r}")
    b.find("#crop-image").click()
    size = b.wait(lambda: preview_size(b) if preview_size(b) and preview_size(b)[0] < size[0] else None, message="the portrait crop did not replace the image")
    expect(abs(size[0] / size[1] - 9 / 16) < 0.02, f"the portrait crop is {size}")
    expect(not b.find("#ratio-note").is_displayed(), "the note stayed after the portrait crop")
    b.driver.set_window_size(390, 844)
    try:
        b.choose("aspect_ratio", "landscape")
        b.wait(lambda: b.find("#ratio-note").is_displayed(), message="back to landscape shows no note")
        b.shot("05c-ratio-note-phone")
        sizes = b.js("return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};")
        expect(sizes["scroll"] <= sizes["inner"], f"the note makes the phone page scroll sideways: {sizes}")
    finally:
        b.driver.set_window_size(1280, 900)
    # What is uploaded is the cropped picture.
    video_id = b.submit("Một chú mèo nhìn ra cửa sổ, khung dọc", aspect="portrait")
    expect(b.card(video_id).get_attribute("data-mode") == "image_to_video", "the dropped image did not make an image-to-video")
    image_url = b.api(f"/api/v1/videos/{video_id}")["image_url"]
    uploaded = b.driver.execute_async_script("""var done = arguments[arguments.length - 1], i = new Image();
        i.onload = function () { done([i.naturalWidth, i.naturalHeight]); }; i.onerror = function () { done(null); }; i.src = arguments[0];""", image_url)
    expect(uploaded == size[:2], f"the uploaded image is {uploaded}, the crop was {size[:2]}")
    b.wait_video(video_id)


def chip_state(b):
    """[(key, text, pressed)] of the style chips above the prompt."""
    return b.js("""return Array.prototype.map.call(document.querySelectorAll('#styles .chip'), function (c) {
        return [c.dataset.key, c.dataset.text, c.getAttribute('aria-pressed') === 'true', c.textContent]; });""")


def step_styles(b, state):
    styles = b.api("/api/v1/styles")
    expect(styles and styles.get("data"), f"GET /api/v1/styles gave {styles}")
    chips = b.wait(lambda: chip_state(b), message="no style chips above the prompt")
    expect([c[0] for c in chips] == [s["key"] for s in styles["data"]], f"the chips {[c[0] for c in chips]} are not the styles {styles['data']}")
    first, second = chips[0], chips[1]
    box = b.find("#prompt")
    box.clear()
    box.send_keys("Một chú mèo cam nhảy qua hàng rào")
    b.find(f'#styles .chip[data-key="{first[0]}"]').click()
    expect(box.get_attribute("value") == "Một chú mèo cam nhảy qua hàng rào, " + first[1], f"the chip added {box.get_attribute('value')!r}")
    b.find(f'#styles .chip[data-key="{second[0]}"]').click()
    expect(box.get_attribute("value") == f"Một chú mèo cam nhảy qua hàng rào, {first[1]}, {second[1]}", f"two chips give {box.get_attribute('value')!r}")
    pressed = {c[0]: c[2] for c in chip_state(b)}
    expect(pressed[first[0]] and pressed[second[0]] and sum(pressed.values()) == 2, f"the pressed chips are {pressed}")
    b.shot("03b-style-chips")
    b.find(f'#styles .chip[data-key="{first[0]}"]').click()
    expect(box.get_attribute("value") == f"Một chú mèo cam nhảy qua hàng rào, {second[1]}", f"taking a chip out left {box.get_attribute('value')!r}")
    expect(not {c[0]: c[2] for c in chip_state(b)}[first[0]], "the chip taken out still shows pressed")
    b.find(f'#styles .chip[data-key="{second[0]}"]').click()
    expect(box.get_attribute("value") == "Một chú mèo cam nhảy qua hàng rào", f"taking both out left {box.get_attribute('value')!r}")
    # Typing the words by hand marks the chip too: what the box shows is what counts.
    box.send_keys(", " + first[1])
    expect({c[0]: c[2] for c in chip_state(b)}[first[0]], "words typed by hand do not mark their chip")
    box.clear()
    b.js("document.getElementById('prompt').dispatchEvent(new Event('input', {bubbles: true}));")


def step_batch(b, state):
    Select(b.find("#variants")).select_by_value("2")
    each = b.wait(lambda: int(b.find("#price-amount").get_attribute("data-value") or 0) // 2 or None, message="no price for two")
    Select(b.find("#variants")).select_by_value("1")
    one = int(b.find("#price-amount").get_attribute("data-value"))
    Select(b.find("#variants")).select_by_value("2")
    two = int(b.find("#price-amount").get_attribute("data-value"))
    expect(two == 2 * one and each == one, f"the price for two is {two}, for one {one}")
    available = b.balance()[0]
    expect(b.text("#balance-after") == VI["composer.balance_after_many"].replace("{count}", "2").replace("{amount}", format_vi(available - two)),
           f"balance after reads {b.text('#balance-after')!r}")
    b.shot("05b-batch-price")
    before = set(b.card_ids())
    box = b.find("#prompt")
    box.clear()
    prompt = "Hai phiên bản: đèn lồng trôi trên sông Hoài " + secrets.token_hex(3)
    box.send_keys(prompt)
    b.find("#submit").click()
    made = b.wait(lambda: [i for i in b.card_ids() if i not in before] if len([i for i in b.card_ids() if i not in before]) >= 2 else None,
                  message="a ×2 submit did not show two new cards")
    expect(len(made) == 2, f"a ×2 submit showed {len(made)} new cards")
    expect(b.card_ids()[:2] == made, "the two new cards are not at the top")
    Select(b.find("#variants")).select_by_value("1")
    listed = {v["id"]: v for v in (b.api("/api/v1/videos?limit=50") or {}).get("data", [])}
    expect(all(listed.get(i, {}).get("prompt") == prompt for i in made), "the two videos do not carry the prompt")
    for video_id in made:
        b.wait_video(video_id)
    for video_id in made:
        video = b.wait(lambda: b.api(f"/api/v1/videos/{video_id}"), message="could not read the video")
        src = b.js("return document.querySelector('#video-' + CSS.escape(arguments[0]) + ' video').src", video_id)
        expect(video.get("media_url") and src == video["media_url"], f"the player plays {src}, not the media_url {video.get('media_url')}")
        download = b.card(video_id, 'a[data-action="download"]').get_attribute("href")
        expect(download == video["media_url"], f"download points at {download}, not the media_url")
    state["batch"] = made
    b.shot("05c-batch-done")


def format_vi(value):
    return f"{value:,}".replace(",", ".")


def fetch_status(url):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Language": "vi"}), timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def center(b, element):
    """Scrolls an element to the middle of the window, clear of the sticky bars, and returns it."""
    b.js("arguments[0].scrollIntoView({block: 'center'});", element)
    return element


def step_share(b, state):
    video_id = state["t2v"]
    expiry = b.text(f"#video-{video_id} .expiry")
    expect(expiry == VI["card.expires_in"].replace("{days}", "14"), f"the finished card's keeping time reads {expiry!r}")
    center(b, b.card(video_id, '[data-action="share"]')).click()
    url = b.wait(lambda: b.js("var a = document.querySelector('#video-' + CSS.escape(arguments[0]) + ' [data-testid=share-url]'); return a && a.href;", video_id),
                 message="sharing showed no link")
    expect("/v/" in url, f"the share link is {url}")
    expect(b.card(video_id, '[data-action="unshare"]') is not None and b.card(video_id, '[data-action="copy-share"]') is not None,
           "the shared card has no copy or stop button")
    expect(b.card(video_id, '[data-action="share"]') is None, "the shared card still offers 'share'")
    embed = b.wait(lambda: b.js("var e = document.querySelector('#video-' + CSS.escape(arguments[0]) + ' [data-testid=embed-code]'); return e && e.value;", video_id),
                   message="the shared card shows no embed code")
    token = url.rsplit("/v/", 1)[1]
    expect(embed.startswith("<iframe") and f"/v/{token}/embed" in embed, f"the embed code is {embed!r}")
    expect(b.js("return document.querySelector('#video-' + CSS.escape(arguments[0]) + ' [data-testid=embed-code]').readOnly", video_id),
           "the embed code box is not read-only")
    expect(b.card(video_id, '[data-action="copy-embed"]') is not None, "the embed code has no copy button")
    views = b.text(f"#video-{video_id} [data-testid=share-views]")
    expect(views == VI["card.share_views"].replace("{count}", "0"), f"a new share's views read {views!r}")
    center(b, b.card(video_id, '[data-testid="share"]'))
    b.shot("06b-shared")
    b.driver.set_window_size(390, 844)
    try:
        center(b, b.card(video_id, '[data-testid="share"]'))
        sizes = b.js("return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};")
        expect(sizes["scroll"] <= sizes["inner"], f"the shared card makes the phone page scroll sideways: {sizes}")
        b.shot("06b-shared-phone")
    finally:
        b.driver.set_window_size(1280, 900)
    status, page = fetch_status(url)
    expect(status == 200 and "<video" in page, f"the public page answered {status}")
    b.open("/")
    b.wait_gallery()
    shown = b.wait(lambda: b.js("var a = document.querySelector('#video-' + CSS.escape(arguments[0]) + ' [data-testid=share-url]'); return a && a.href;", video_id),
                   message="after a reload the card does not show its link")
    expect(shown == url, f"after a reload the link is {shown}, not {url}")
    counted = b.js("var e = document.querySelector('#video-' + CSS.escape(arguments[0]) + ' [data-testid=share-views]'); return e ? Number(e.dataset.count) : null;", video_id)
    api_views = b.api(f"/api/v1/videos/{video_id}")["share_views"]
    expect(counted == api_views and api_views >= 1, f"after one visit the card counts {counted} views, the API {api_views}")
    # The public page plays, signed in or not.
    b.driver.get(url)
    playable = b.wait(lambda: b.js("""var v = document.querySelector('video'); if (!v) return false;
        if (!v.dataset.tried) { v.dataset.tried = '1'; v.muted = true; var p = v.play(); if (p && p.catch) p.catch(function () {}); }
        return v.readyState >= 2 || v.duration > 0;"""), 15, "the public page's video never became playable")
    expect(playable, "the public page does not play")
    b.shot("06c-public-page")
    b.open("/")
    b.wait_gallery()
    center(b, b.wait(lambda: b.card(video_id, '[data-action="unshare"]'), message="the stop button is gone")).click()
    b.wait(lambda: b.card(video_id, '[data-action="share"]') is not None and b.card(video_id, '[data-testid="share"]') is None,
           message="stopping did not take the link away")
    status, _ = fetch_status(url)
    expect(status == 404, f"after stopping, the public page answered {status}")


def step_fail_refund(b, state):
    # Start from a header in step with the server (the earlier videos have settled by now).
    me = b.wait(lambda: b.api("/api/v1/me"), message="could not read /api/v1/me")
    before = b.wait(lambda: b.balance() if b.balance() == (me["credits"], me["credits_on_hold"]) else None,
                    message=f"the header {b.balance()} differs from /me {me}")
    video_id = b.submit("Một con mèo nhảy qua hàng rào #fail")
    state["fail"] = video_id
    b.wait_status(video_id, {"failed"})
    failure = b.text(f"#video-{video_id} .failure-message")
    expect(failure, "the failed card shows no reason")
    expect(b.text(f"#video-{video_id} .refunded") == VI["card.refunded"], f"no 'credits refunded' on the card: {b.text(f'#video-{video_id} .refunded')!r}")
    try:
        b.wait(lambda: b.balance() == before, message=f"the balance did not come back: {before} -> {b.balance()}")
    except Failed:
        # Another of the account's videos (made outside this test) may have moved the balance meanwhile:
        # then the ledger must show this video's hold released in full, and the header must match /me.
        entries = [e for e in (b.api("/api/v1/credits/transactions?limit=100") or {}).get("data", []) if e.get("video_id") == video_id]
        now = b.api("/api/v1/me")
        expect(entries and sum(e["amount"] for e in entries) == 0 and sum(e["held_change"] for e in entries) == 0
               and any(e["kind"] == "release" for e in entries) and b.balance() == (now["credits"], now["credits_on_hold"]),
               f"the balance did not come back ({before} -> {b.balance()}) and the ledger does not show the refund: {entries}")
    retry = b.card(video_id, '[data-action="retry"]')
    expect(retry is not None, "the failed card has no 'try again'")
    retry.click()
    expect(b.find("#prompt").get_attribute("value") == "Một con mèo nhảy qua hàng rào #fail", "try again did not refill the prompt")
    b.find("#prompt").clear()


def step_hostile_prompt(b, state):
    hostile = '<img src=x onerror=alert(1)> "quoted" & <b>bold</b> #fail'
    video_id = b.submit(hostile)
    state["hostile"] = video_id
    shown = b.text(f"#video-{video_id} .prompt")
    expect(shown == hostile, f"the prompt is not shown literally: {shown!r}")
    expect(b.card(video_id, ".prompt img") is None and b.card(video_id, ".prompt b") is None, "markup in the prompt became elements")
    b.wait_status(video_id, {"failed"})
    try:
        alert = b.driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise Failed(f"an alert ran: {text!r}")
    except NoAlertPresentException:
        pass


def step_double_submit(b, state):
    prompt = "Sóng vỗ vào ghềnh đá, trời giông #fail " + secrets.token_hex(3)
    before = set(b.card_ids())
    b.find("#prompt").clear()
    b.find("#prompt").send_keys(prompt)
    b.js("var s = document.getElementById('submit'); s.click(); s.click(); document.getElementById('composer').requestSubmit();")
    video_id = b.wait(lambda: next((i for i in b.card_ids() if i not in before), None), message="no card appeared")
    b.wait_status(video_id, {"failed"})
    listed = b.api("/api/v1/videos?limit=50")
    expect(listed is not None, "could not list the videos")
    made = [video for video in listed.get("data", []) if video.get("prompt") == prompt]
    expect(len(made) == 1, f"a double click made {len(made)} videos")
    expect(len([i for i in b.card_ids() if i not in before]) == 1, "the gallery shows more than one new card")


def step_delete(b, state):
    video_id = state["hostile"]
    b.card(video_id, '[data-action="delete"]').click()
    confirm = b.card(video_id, '[data-testid="confirm-delete"]')
    b.wait(lambda: confirm.is_displayed(), message="delete did not ask first")
    b.shot("08a-delete-confirm")
    b.card(video_id, '[data-action="keep"]').click()
    expect(b.card_status(video_id) is not None and not confirm.is_displayed(), "'keep' did not keep the video")
    b.card(video_id, '[data-action="delete"]').click()
    b.wait(lambda: b.card(video_id, '[data-action="confirm-delete"]').is_displayed(), message="the confirmation did not show again")
    b.card(video_id, '[data-action="confirm-delete"]').click()
    b.wait(lambda: b.card_status(video_id) is None, message="the deleted card stayed")
    b.open("/")
    b.wait_gallery()
    b.wait(lambda: state["t2v"] in b.card_ids(), message="the gallery lost the finished video after a reload")
    expect(b.card_status(video_id) is None, "the deleted video came back after a reload")


def step_english(b, state):
    b.find('[data-testid="lang-en"]').click()
    b.wait(lambda: b.js("return document.documentElement.lang") == "en", message="the language switch did not turn the page English")
    expect(b.text(".submit-label") == EN["composer.submit"], f"submit label is {b.text('.submit-label')!r}")
    expect(b.text("#nav a[aria-current=page]") == EN["nav.studio"], "the nav is not English")
    expect(b.text(f"#video-{state['t2v']} .badge") == EN["status.completed"], "the card's status is not English")
    expect(b.js("return localStorage.getItem('phim.lang')") == "en", "the choice is not remembered in localStorage")
    def styles(language):
        return b.driver.execute_async_script("""var done = arguments[arguments.length - 1];
            fetch('/api/v1/styles', {headers: {'Accept-Language': arguments[0]}}).then(function (r) { return r.json(); }).then(done, function () { done(null); });""",
                                             language)
    names, english = styles("vi"), styles("en")
    b.wait(lambda: [c[3] for c in chip_state(b)] == [s["name"] for s in english["data"]],
           message=f"the chips are not in English: {[c[3] for c in chip_state(b)]} vs {english and english['data']}")
    expect([s["name"] for s in names["data"]] != [s["name"] for s in english["data"]], "the styles' names are the same in both languages")
    b.driver.refresh()
    b.wait_gallery()
    expect(b.js("return document.documentElement.lang") == "en", "after a reload the page is not English any more")
    expect(b.text(".submit-label") == EN["composer.submit"], "after a reload the composer is not English")
    expect(b.text("#balance-available").count(",") >= 1 or b.balance()[0] < 1000, "English numbers are not grouped with commas")


def step_credits(b, state):
    b.find('#nav a[href="/credits"]').click()
    b.wait(lambda: b.path() == "/credits", message="the nav did not open the credits page")
    b.wait_ready()
    b.wait(lambda: b.all('[data-testid="ledger-row"]'), message="the ledger shows no rows")
    kinds = set(b.js("return Array.prototype.map.call(document.querySelectorAll('[data-testid=ledger-row]'), function (r) { return r.dataset.kind; });"))
    expect({"hold", "settle", "release"} <= kinds, f"the ledger lacks hold, settle or release: {sorted(kinds)}")
    expect(b.text("[data-kind=hold] .kind-badge") == EN["ledger.kind.hold"], "ledger kinds are not translated")
    available = b.find("#credits-available").get_attribute("data-value")
    expect(available not in (None, "") and int(available) == b.balance()[0], "the page's balance differs from the header's")


def step_keys(b, state):
    b.find('#nav a[href="/keys"]').click()
    b.wait(lambda: b.path() == "/keys", message="the nav did not open the keys page")
    b.wait_ready()
    name = "e2e " + secrets.token_hex(3)
    b.find("#key-name").send_keys(name)
    b.find("#key-create").click()
    key = b.wait(lambda: b.find("#new-key").get_attribute("value"), message="no key was shown")
    expect(b.find('[data-testid="new-key-panel"]').is_displayed(), "the new key's panel is hidden")
    expect(key in b.text("#curl-example"), "the curl example does not use the new key")
    expect(bearer_status(b.base, key) == 200, "the new key does not work with Authorization: Bearer")
    row = b.wait(lambda: next((r for r in b.all('[data-testid="key-row"]') if r.find_element(By.CSS_SELECTOR, ".key-name").text == name), None),
                 message="the new key is not listed")
    expect(key not in b.text("#keys-table"), "the list shows the whole key")
    key_id = row.get_attribute("data-id")
    b.shot("10a-keys-new")
    row.find_element(By.CSS_SELECTOR, '[data-action="revoke"]').click()
    b.wait(lambda: b.find('[data-testid="confirm-revoke"]').is_displayed(), message="revoke did not ask first")
    b.shot("10b-keys-confirm")
    b.find('[data-action="confirm-revoke"]').click()
    b.wait(lambda: not b.all('[data-testid="confirm-revoke"]'), message="the confirmation stayed")
    status = b.wait(lambda: b.js("var r = document.querySelector('[data-testid=key-row][data-id=\"' + arguments[0] + '\"]');"
                                 "return r ? (r.querySelector('[data-testid=key-status]') || {}).textContent : 'gone';", key_id),
                    message="the revoked key's row did not update")
    expect(status in (EN["keys.revoked"], "gone"), f"the key's status reads {status!r}")
    expect(bearer_status(b.base, key) == 401, "the revoked key still works")


def step_phone(b, state):
    b.driver.set_window_size(390, 844)
    try:
        b.open("/")
        b.wait_gallery()
        b.wait(lambda: b.card_ids(), message="no cards on the phone")
        sizes = b.js("""var r = document.getElementById('composer').getBoundingClientRect();
                        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                                left: r.left, right: r.right, bottom: r.bottom, height: window.innerHeight,
                                columns: getComputedStyle(document.getElementById('gallery')).gridTemplateColumns.split(' ').length};""")
        expect(sizes["scroll"] <= sizes["inner"], f"the page scrolls sideways: {sizes}")
        expect(sizes["left"] >= 0 and sizes["right"] <= sizes["inner"] + 0.5, f"the composer is wider than the screen: {sizes}")
        expect(abs(sizes["bottom"] - sizes["height"]) < 2, f"the composer is not at the bottom of the screen: {sizes}")
        expect(sizes["columns"] == 1, f"the gallery has {sizes['columns']} columns on a phone")
        composer = b.js("""var r = document.getElementById('composer').getBoundingClientRect(), c = document.getElementById('styles').getBoundingClientRect();
                           return {height: r.height, chips: c.height, screen: window.innerHeight};""")
        expect(composer["height"] <= 0.4 * composer["screen"], f"the composer takes {composer['height']:.0f} of {composer['screen']} px on a phone")
        expect(composer["chips"] <= 40, f"the style chips take {composer['chips']:.0f} px (more than one line) on a phone")
        b.shot("11-phone-studio")
    finally:
        b.driver.set_window_size(1280, 900)


def step_console(b, state):
    b.collect_console()
    # Answers the browser logs as failed loads on purpose: not signed in yet (401 on /me), the wrong password.
    expected = ("/api/v1/me - Failed to load resource: the server responded with a status of 401",
                "/api/v1/auth/login - Failed to load resource: the server responded with a status of 401")
    errors = [entry["message"] for entry in b.console if entry.get("level") == "SEVERE" and not any(text in entry["message"] for text in expected)]
    expect(not errors, "console errors: " + json.dumps(errors)[:1200])


STEPS = [
    ("01-signup", "a fresh account signs up, lands in the Vietnamese studio with 0 credits", step_signup),
    ("02-signin-error", "a wrong password shows the server's error on the form", step_signin_error),
    ("03-signin-demo", "the demo account signs in; the balance and a price show", step_signin_demo),
    ("03b-styles", "style chips add their words to the prompt and take them out again", step_styles),
    ("04-text-to-video", "a text-to-video completes without a reload and plays", step_text_to_video),
    ("04b-batch", "×2 shows twice the price, makes two cards at once, both complete and play from their media_url", step_batch),
    ("04c-share", "share shows the link (kept after a reload), the public page plays, stop sharing makes it 404", step_share),
    ("05-image-to-video", "an image-to-video with an uploaded PNG completes", step_image_to_video),
    ("05b-drop-crop", "a dropped 4:3 image is attached, the frame mismatch is shown, 'crop to frame' makes 16:9 then 9:16, and the crop is what is uploaded", step_drop_crop),
    ("06-fail-refund", "a #fail video shows its reason, 'credits refunded', and the balance comes back", step_fail_refund),
    ("07-hostile-prompt", "a prompt with markup shows as text and runs nothing", step_hostile_prompt),
    ("07b-double-submit", "a double click on submit makes one video", step_double_submit),
    ("08-delete", "delete asks inline, removes the card, and it stays gone after a reload", step_delete),
    ("09-english", "the language switch turns the studio English, and it stays English after a reload", step_english),
    ("10-credits", "the credits page lists the ledger (hold, settle, release)", step_credits),
    ("11-keys", "the keys page makes a working key, then revokes it after asking", step_keys),
    ("12-phone", "at 390x844 the studio has one column, the composer at the bottom, no sideways scroll", step_phone),
    ("13-console", "no unexpected errors in the browser console (CSP violations included)", step_console),
]


def main():
    parser = argparse.ArgumentParser(description="Phim dashboard browser test")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--screenshots", default=os.path.join(tempfile.gettempdir(), "phim-browser-screenshots"))
    parser.add_argument("--only", help="comma-separated step prefixes to run (for debugging)")
    options = parser.parse_args()
    browser = Browser(options.base_url, options.screenshots)
    state = {"work": tempfile.mkdtemp(prefix="phim-browser-")}
    try:
        passed, failed = run_steps(browser, STEPS, state, options.only)
    finally:
        browser.quit()
    print(f"screenshots: {options.screenshots}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

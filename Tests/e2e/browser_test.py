#!/usr/bin/env python3
"""Drives the dashboard in headless Chromium the way a person would, against a running Phim in demo
mode (simulator finishing jobs in about 3 s: PHIM_SIMULATOR_DELAY_SECONDS=3).

Usage: python3 Tests/e2e/browser_test.py --base-url http://127.0.0.1:PORT [--screenshots DIR] [--paused-model ID]
                                     [--phim PATH --data DIR]

With --paused-model (a catalog model whose provider id the service's simulator refuses: phim up
with PHIM_SIMULATOR_PAUSED_MODELS), a video from the studio fails on its card once the provider
refuses it, and the picker greys that model in Phim's words (the provider's own are for
operators); without it that step is skipped.

With --phim and --data (the binary and the data directory of the running service), the queue step
makes an administrator (`phim users create --admin`), lowers the provider queue's limit to one
create per 10 s (PUT /api/v1/admin/queue/limits) so the demo account's videos queue, checks the
cards' places and waits as they move, and both cancels; it puts the limit back to 1,000 at the
end. Without them that step is skipped.

Each step prints one line and saves a PNG; the run ends with "N passed, N failed" (", N skipped"
when a step could not be checked against this server, each with its reason) and exits non-zero on
any failure. Needs Debian's chromium and chromium-driver and PyPI's selenium. The steps find
elements by ids, data-testid and data-action, never by wording; words are compared with the values
in public/i18n/*.json, and models, options and prices with GET /api/v1/models (the catalog: the
page learns them nowhere else). The demo account (demo@phim.local, 100,000 credits) makes the
videos with the cheapest options, about 35,000 credits a run (a Grok Imagine video, a Veo 3.1 Lite
one, a slow one, a ×2 batch, an image-to-video and the queue step's three; the failed, refused and
canceled-while-queued ones are refunded), more creates a minute than an account may start by
default: run it with PHIM_CREATES_PER_MINUTE raised, as Tests/run.sh does.
"""
import argparse
import datetime
import json
import os
import secrets
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_support import EN, UI_TIMEOUT, VI, Failed, Page, Skipped, expect, http, make_admin, run_steps, summary, words  # noqa: E402

DEMO_EMAIL = "demo@phim.local"
DEMO_PASSWORD = "phim-demo"
JOB_TIMEOUT = 20      # seconds for a video to finish (the simulator takes about 3)
# The models the steps make videos with: one of each family (Kie's Market API and its Veo API).
MARKET = "grok-imagine"
VEO = "veo-3.1-lite"


def catalog_price(model, duration, resolution, audio):
    """The credits the catalog asks for one video with these options (None when it has no such row)."""
    if model["audio"] == "always":
        audio = True
    elif model["audio"] == "none":
        audio = False
    return next((row["credits"] for row in model["prices"]
                 if row["duration"] == duration and row["resolution"] == resolution and row["audio"] == audio), None)


def clock(seconds):
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def png(width, height):
    """A real PNG (a warm gradient) for the image-to-video upload, made with zlib and struct."""
    rows = b"".join(b"\x00" + bytes(channel for x in range(width)
                                    for channel in (255, 120 + x * 100 // width, 60 + y * 150 // height))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Browser(Page):
    """The studio's gestures on top of the common ones (browser_support.Page)."""

    def __init__(self, base, shots):
        super().__init__(base, shots, ("--autoplay-policy=no-user-gesture-required",))

    def wait_gallery(self):
        self.wait_ready()
        self.wait(lambda: self.js("var l = document.getElementById('gallery-loading'); return !!l && l.hidden;"),
                  message="the gallery never finished loading")

    def balance(self):
        """(available, on hold) as the header holds them, raw numbers."""
        values = self.js("""var a = document.getElementById('balance-available'), h = document.getElementById('balance-held');
                            return [a && a.dataset.value, h && h.dataset.value];""")
        return tuple(int(v) if v not in (None, "") else None for v in values)

    def api(self, path):
        """GETs a JSON answer from the page, with its cookie (None when it fails)."""
        status, answer = self.call("GET", path)
        return answer if 200 <= status < 300 else None

    def card_ids(self):
        return self.js("return Array.prototype.map.call(document.querySelectorAll('#gallery .card'), function (c) { return c.dataset.id; });")

    def card(self, video_id, css=""):
        return self.js("var c = document.getElementById('video-' + arguments[0]); return c && arguments[1] ? c.querySelector(arguments[1]) : c;",
                       video_id, css)

    def card_status(self, video_id):
        return self.js("var c = document.getElementById('video-' + arguments[0]); return c ? c.dataset.status : null;", video_id)

    def choose(self, name, value):
        """Clicks the segment of a composer option (aspect_ratio, duration, resolution) by its value."""
        self.find(f'input[name="{name}"][value="{value}"]').find_element(By.XPATH, "..").click()

    def choices(self, name):
        """The values a composer option offers now, in order, and the checked one."""
        return self.js("""var all = document.querySelectorAll('input[name="' + arguments[0] + '"]');
            return [Array.prototype.map.call(all, function (i) { return i.value; }),
                    (Array.prototype.filter.call(all, function (i) { return i.checked; })[0] || {}).value || null];""", name)

    def chosen_model(self):
        return self.find("#model-button").get_attribute("data-model")

    def open_picker(self):
        if not self.shown('[data-testid="model-list"]'):
            self.find("#model-button").click()
        self.wait(lambda: self.shown('[data-testid="model-option"]'), message="the model list did not open")
        time.sleep(0.2)  # its opening animation, for the screenshots

    def choose_model(self, model_id):
        """Picks a model in the picker as a person would (opens the list, clicks the model)."""
        self.wait(lambda: self.find("#model-button").is_enabled(), message="the model picker never became usable")
        if self.chosen_model() == model_id:
            return
        self.open_picker()
        option = self.find(f'.model-option[data-model="{model_id}"]')
        self.js("arguments[0].scrollIntoView({block: 'nearest'});", option)
        option.click()
        self.wait(lambda: self.chosen_model() == model_id, message=f"choosing {model_id} did not make it the chosen model")
        expect(not self.shown('[data-testid="model-list"]'), "the model list stayed open after choosing")

    def price(self):
        raw = self.find("#price-amount").get_attribute("data-value")
        return int(raw) if raw else None

    def submit(self, prompt, image=None, model=MARKET, duration=None, aspect=None, resolution=None, audio=None):
        """Fills the composer and sends it; returns the id of the card that appears at the top."""
        self.choose_model(model)
        box = self.find("#prompt")
        box.clear()
        box.send_keys(prompt)
        if duration:
            self.choose("duration", duration)
        if aspect:
            self.choose("aspect_ratio", aspect)
        if resolution:
            self.choose("resolution", resolution)
        if audio is not None and self.shown('[data-testid="audio-toggle"]') and self.find("#audio").is_selected() != audio:
            self.find('[data-testid="audio-toggle"]').click()
        if image:
            self.find("#image-input").send_keys(image)
            self.wait(lambda: self.find("#attachment").is_displayed(), message="the chosen image did not show as a preview")
        before = set(self.card_ids())
        self.wait(lambda: self.find("#submit").is_enabled(), message=f"the submit button stayed disabled ({self.text('#blocked')!r})")
        self.find("#submit").click()
        new_id = self.wait(lambda: next((i for i in self.card_ids() if i not in before), None),
                           message=f"no new card appeared after submitting ({self.text('#composer-error-text')!r})")
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
    b.send_sign_in(DEMO_EMAIL, "wrong-password")
    b.wait(lambda: b.find("#form-error").is_displayed() and b.text("#form-error"), message="a wrong password shows no error")
    expect(b.path() == "/signin", "a wrong password left the sign-in page")


def step_signin_demo(b, state):
    b.sign_in(DEMO_EMAIL, DEMO_PASSWORD)  # fails the step unless the demo account reaches the studio
    b.wait_gallery()
    available, held = b.wait(lambda: b.balance() if b.balance()[0] is not None else None, message="the balance never showed")
    expect(available >= 35000, f"the demo account has too few credits for the video steps: {available}")
    expect(b.text("#balance-available") not in ("", "…"), "the balance chip shows no number")
    catalog = b.wait(lambda: b.api("/api/v1/models"), message="GET /api/v1/models failed")
    state["catalog"] = catalog
    state["models"] = {m["id"]: m for m in catalog["models"]}
    expect(MARKET in state["models"] and VEO in state["models"], f"the catalog lacks {MARKET} or {VEO}: {list(state['models'])}")
    default = next(m for m in catalog["models"] if m["default"])
    b.wait(lambda: b.chosen_model() == default["id"], message=f"the default model {default['id']} is not chosen first ({b.chosen_model()})")
    expect(b.text('[data-testid="model-name"]') == default["name"], f"the picker names {b.text('[data-testid=model-name]')!r}")
    price = b.wait(lambda: b.price(), message="the composer shows no price")
    first = catalog_price(default, default["defaults"]["duration"], default["defaults"]["resolution"], default["defaults"]["audio"])
    expect(price == first, f"the first price is {price}, the catalog's {first} for the default model's defaults")


def fact_words(model):
    sound = {"optional": "model.sound_optional", "always": "model.sound_always", "none": "model.sound_none"}[model["audio"]]
    image = "model.image_no" if "image_to_video" not in model["modes"] else "model.image_yes" if "text_to_video" in model["modes"] else "model.image_only"
    return VI[sound], VI[image], words(VI, "model.durations", list=" · ".join(str(d) for d in model["durations"])), " · ".join(model["resolutions"])


def picker_rows(b):
    return b.js("""return Array.prototype.map.call(document.querySelectorAll('#model-list .model-option'), function (o) {
        var p = o.querySelector('[data-testid=model-price]');
        function t(s) { var e = o.querySelector(s); return e ? e.textContent : null; }
        return {id: o.dataset.model, name: t('[data-testid=model-option-name]'), price: p.textContent, min: Number(p.dataset.min), max: Number(p.dataset.max),
                sound: t('[data-testid=model-sound]'), image: t('[data-testid=model-image]'), durations: t('[data-testid=model-durations]'),
                resolutions: t('[data-testid=model-resolutions]'), selected: o.getAttribute('aria-selected') === 'true',
                disabled: o.getAttribute('aria-disabled') === 'true', why: t('[data-testid=model-unavailable]')}; });""")


def step_models(b, state):
    models = state["catalog"]["models"]
    b.open_picker()
    rows = picker_rows(b)
    expect([r["id"] for r in rows] == [m["id"] for m in models], f"the picker lists {[r['id'] for r in rows]}, the catalog {[m['id'] for m in models]}")
    for row, model in zip(rows, models):
        credits = [p["credits"] for p in model["prices"]]
        low, high = min(credits), max(credits)
        text = words(VI, "credits.amount", amount=low) if low == high else words(VI, "model.price_range", **{"from": low, "to": high})
        expect(row["name"] == model["name"] and (row["min"], row["max"]) == (low, high) and row["price"] == text,
               f"{model['id']} reads {row['name']!r} {row['price']!r}, the catalog gives {low}–{high} ({text!r})")
        expect((row["sound"], row["image"], row["durations"], row["resolutions"]) == fact_words(model),
               f"{model['id']} says {(row['sound'], row['image'], row['durations'], row['resolutions'])}, expected {fact_words(model)}")
        expect(row["selected"] == model["default"], f"{model['id']} selected={row['selected']} but default={model['default']}")
        if model["available"] is False:
            expect(row["disabled"] and row["why"] == VI["model.paused_no_reason"] and "unavailable_reason" not in model,
                   f"the paused {model['id']} is not greyed in Phim's words (the provider's are for operators): {row}")
        else:
            expect(not row["disabled"] and row["why"] is None, f"{model['id']} is greyed though available: {row}")
    expect("4.500" in b.text('.model-option[data-model="seedance-2-mini"] [data-testid=model-price]') or "seedance-2-mini" not in state["models"],
           "credits are not grouped the Vietnamese way (4.500)")
    b.shot("03a-model-picker")
    b.find('.model-option[aria-selected="true"]').send_keys("\ue00c")  # Escape closes the list
    b.wait(lambda: not b.shown('[data-testid="model-list"]'), message="Escape did not close the model list")
    b.driver.set_window_size(390, 844)
    try:
        b.open_picker()
        sizes = b.js("""var r = document.getElementById('model-list').getBoundingClientRect();
                        return {left: r.left, right: r.right, top: r.top, inner: window.innerWidth, scroll: document.documentElement.scrollWidth};""")
        expect(sizes["left"] >= 0 and sizes["right"] <= sizes["inner"] + 0.5 and sizes["scroll"] <= sizes["inner"], f"the model list overflows on a phone: {sizes}")
        b.shot("03a-model-picker-phone")
        b.find('.model-option[aria-selected="true"]').send_keys("\ue00c")
        b.wait(lambda: not b.shown('[data-testid="model-list"]'), message="Escape did not close the model list on a phone")
    finally:
        b.driver.set_window_size(1280, 900)


# Scrolls the open model list to one model (its option's offsetParent is the list).
SHOW_OPTION = """var o = document.querySelector('.model-option[data-model="' + arguments[0] + '"]'); o.offsetParent.scrollTop = o.offsetTop - 60;"""


def step_paused(b, state):
    """A model the provider refuses: the create is queued at once, the video then fails on its card
    with the server's words (refunded), the picker is read again and greys the model in Phim's
    words, and it cannot be sent."""
    model_id = state.get("paused_model")
    if not model_id:
        raise Skipped("no paused model in this run (start phim up with PHIM_SIMULATOR_PAUSED_MODELS=<provider id> "
                      "and a catalog model using it, then pass --paused-model <catalog id>)")
    model = state["models"].get(model_id)
    expect(model is not None, f"{model_id} is not offered: {list(state['models'])}")
    if model["available"]:
        video_id = None
        b.choose_model(model_id)
        box = b.find("#prompt")
        box.clear()
        box.send_keys("Đèn lồng trôi trên sông Hoài lúc chiều tối")
        b.wait(lambda: b.find("#submit").is_enabled(), message=f"{model_id} cannot be sent before the provider refused it")
        before = set(b.card_ids())
        b.find("#submit").click()
        video_id = b.wait(lambda: next((i for i in b.card_ids() if i not in before), None),
                          message=f"the create made no card ({b.text('#composer-error-text')!r})")
        expect(not b.shown("#composer-error"), f"the create was refused at once: {b.text('#composer-error-text')!r}")
        b.wait_status(video_id, {"failed"})
        video = b.api(f"/api/v1/videos/{video_id}")
        failure = video.get("failure") or {}
        expect(failure.get("code") == "model_unavailable" and video.get("credits_refunded") is True,
               f"the refused video failed with {failure} (refunded: {video.get('credits_refunded')})")
        shown = b.text(f"#video-{video_id} .failure-message")
        expect(shown == failure.get("message") and "temporarily paused" not in shown,
               f"the card reads {shown!r} (Phim's words, not the provider's: {failure.get('message')!r})")
        expect(b.text(f"#video-{video_id} .refunded") == VI["card.refunded"], "the refused card does not say the credits came back")
        fresh = b.api("/api/v1/models")
        model = next(m for m in fresh["models"] if m["id"] == model_id)
        expect(model["available"] is False, f"the server did not mark {model_id} unavailable after the provider refused it")
        # Still chosen, it cannot be sent, and the composer says why.
        b.wait(lambda: not b.find("#submit").is_enabled() and b.shown("#blocked"), message="the paused model can still be sent")
        expect(b.text("#blocked") == words(VI, "composer.model_unavailable_plain", name=model["name"]),
               f"the composer says {b.text('#blocked')!r}")
        expect("paused" in b.find("#model-button").get_attribute("class"), "the picker's button does not show the chosen model is paused")
        b.shot("03d-paused-composer")
        b.find("#prompt").clear()
    b.choose_model(MARKET)
    # The picker was read again: the model is greyed in Phim's words and cannot be chosen.
    b.open_picker()
    row = b.wait(lambda: next((r for r in picker_rows(b) if r["id"] == model_id and r["disabled"]), None),
                 message=f"the picker does not grey {model_id}")
    expect(row["why"] == VI["model.paused_no_reason"], f"the greyed model reads {row['why']!r}")
    b.js(SHOW_OPTION, model_id)
    b.shot("03d-paused-picker")
    b.find(f'.model-option[data-model="{model_id}"]').click()
    expect(b.chosen_model() == MARKET, "a paused model could be chosen")
    b.driver.set_window_size(390, 844)
    try:
        b.open_picker()
        b.js(SHOW_OPTION, model_id)
        sizes = b.js("var r = document.getElementById('model-list').getBoundingClientRect(); return {top: r.top, bottom: r.bottom, height: window.innerHeight};")
        expect(sizes["top"] >= 0 and sizes["bottom"] <= sizes["height"] + 0.5, f"the model list is off the phone's screen: {sizes}")
        b.shot("03d-paused-picker-phone")
        b.find('.model-option[aria-selected="true"]').send_keys("\ue00c")
    finally:
        b.driver.set_window_size(1280, 900)
    b.wait(lambda: not b.shown('[data-testid="model-list"]'), message="the model list stayed open")


# An old video as the API gives one (the demo database has none): drawn by the studio's own
# modules (the same instances the page runs), then taken out again.
OLD_VIDEO = """var done = arguments[arguments.length - 1], gone = arguments[0];
    import('/js/studio/feed.js').then(function (feed) {
      feed.applyVideo({id: 'e2e-old-' + gone, status: 'completed', progress: 100, mode: 'text_to_video', model: gone, prompt: 'e2e: an old video',
                       aspect_ratio: '9:16', duration: 10, resolution: 'standard', audio: true, price_credits: 7000,
                       created_at: '2026-01-02T03:04:05Z', updated_at: '2026-01-02T03:04:05Z', expired: true}, 'end');
      var card = document.getElementById('video-e2e-old-' + gone);
      var found = card && [card.querySelector('[data-testid=card-model]').textContent, card.querySelector('[data-testid=card-resolution]').textContent];
      if (card) card.remove();
      done(found);
    }, function (error) { done('import failed: ' + error); });"""


def step_old_video(b, state):
    withdrawn = state["catalog"]["withdrawn"]
    expect(withdrawn, "the catalog names no withdrawn model")
    for gone in withdrawn:
        expect(gone["retired"] and gone["id"] not in state["models"], f"{gone['id']} is withdrawn yet offered")
        name, quality = b.driver.execute_async_script(OLD_VIDEO, gone["id"])
        expect(name == gone["name"], f"an old {gone['id']} video's card names {name!r}, not {gone['name']!r}")
        expect(quality == VI["card.resolution_standard"], f"an old video's quality reads {quality!r}")
    expect(any(g["name"] == "Sora 2" for g in withdrawn), "no old video would be named Sora 2")
    b.open_picker()
    expect(not [r for r in picker_rows(b) if r["id"] in {g["id"] for g in withdrawn}], "the picker offers a withdrawn model")
    b.find('.model-option[aria-selected="true"]').send_keys("\ue00c")


def expect_composer(b, model, duration, ratio, resolution, audio, label):
    """The composer offers the model's options only, with these checked, and prices them as the catalog does."""
    for name, key, wanted in (("aspect_ratio", "aspect_ratios", ratio), ("duration", "durations", duration), ("resolution", "resolutions", resolution)):
        values, checked = b.choices(name)
        expect(values == [str(v) for v in model[key]], f"{label}: {name} offers {values}, the model {model[key]}")
        expect(checked == str(wanted), f"{label}: {name} {checked!r} is checked, expected {wanted!r}")
    expect(b.shown('[data-testid="audio-toggle"]') == (model["audio"] == "optional"), f"{label}: the sound toggle shows for audio={model['audio']}")
    expect(b.shown('[data-testid="audio-always"]') == (model["audio"] == "always"), f"{label}: the 'with sound' mark shows for audio={model['audio']}")
    if model["audio"] == "optional":
        expect(b.find("#audio").is_selected() == audio, f"{label}: sound is {'on' if b.find('#audio').is_selected() else 'off'}, expected {audio}")
    expected = catalog_price(model, int(duration), resolution, audio)
    b.wait(lambda: b.price() == expected, message=f"{label}: the price shows {b.price()}, the catalog's row says {expected}")
    expect(b.text("#price-amount") == words(VI, "credits.amount", amount=expected).split(" ")[0], f"{label}: the price reads {b.text('#price-amount')!r}")
    expect(b.text("#char-count").endswith(words(VI, "composer.char_count", count=0, max=model["prompt_max_length"]).split(" / ")[1]),
           f"{label}: the prompt counter reads {b.text('#char-count')!r}, the model's limit is {model['prompt_max_length']}")


def step_options(b, state):
    models = state["models"]
    seedance, wan, veo, grok, kling = (models.get(i) for i in ("seedance-2-mini", "wan-3.0", VEO, MARKET, "kling-3.0"))
    expect(all((seedance, wan, veo, grok, kling)), f"the catalog lacks a model this step uses: {list(models)}")
    b.choose_model("seedance-2-mini")
    b.choose("duration", "10")
    b.choose("aspect_ratio", "9:16")
    b.choose("resolution", "720p")
    if not b.find("#audio").is_selected():
        b.find('[data-testid="audio-toggle"]').click()
    expect_composer(b, seedance, 10, "9:16", "720p", True, "Seedance, 10 s 9:16 720p with sound")
    # Wan offers all of it: everything is kept, sound included (both make it optional).
    b.choose_model("wan-3.0")
    expect_composer(b, wan, 10, "9:16", "720p", True, "Wan after Seedance")
    b.find('[data-testid="audio-toggle"]').click()
    expect_composer(b, wan, 10, "9:16", "720p", False, "Wan without sound")
    # Veo: no 1:1, one length, one resolution, sound always; 9:16 is kept.
    b.choose_model(VEO)
    expect_composer(b, veo, 8, "9:16", "720p", True, "Veo 3.1 Lite after Wan")
    expect("1:1" not in b.choices("aspect_ratio")[0] and len(b.choices("duration")[0]) == 1, "Veo offers 1:1 or more than one length")
    b.shot("03b-options-veo")
    # Grok: 8 s is not offered, so its first length; sound always.
    b.choose_model(MARKET)
    expect_composer(b, grok, grok["durations"][0], "9:16", "720p" if "720p" in grok["resolutions"] else grok["resolutions"][0], True, "Grok after Veo")
    b.choose("aspect_ratio", "1:1")
    expect_composer(b, grok, grok["durations"][0], "1:1", b.choices("resolution")[1], True, "Grok 1:1")
    # Veo again: 1:1 is not offered there, so the model's first frame.
    b.choose_model(VEO)
    expect_composer(b, veo, 8, veo["aspect_ratios"][0], "720p", True, "Veo after a 1:1 Grok")
    # Kling's prompt limit: a longer prompt cannot be sent, and says why.
    b.choose_model("kling-3.0")
    long_prompt = "Một chú mèo " * (kling["prompt_max_length"] // 12 + 20)
    b.js("var p = document.getElementById('prompt'); p.value = arguments[0]; p.dispatchEvent(new Event('input', {bubbles: true}));", long_prompt)
    b.wait(lambda: not b.find("#submit").is_enabled(), message="a prompt over Kling's limit can still be sent")
    length = len(long_prompt.strip())
    expect(b.text("#char-count") == words(VI, "composer.char_count", count=length, max=kling["prompt_max_length"]), f"the counter reads {b.text('#char-count')!r}")
    expect("over-limit" in b.find("#char-count").get_attribute("class"), "the counter over the limit is not marked")
    expect(b.text("#blocked") == words(VI, "composer.prompt_too_long", name=kling["name"], max=kling["prompt_max_length"]), f"the composer says {b.text('#blocked')!r}")
    b.shot("03b-prompt-too-long")
    b.choose_model("seedance-2-mini")
    b.wait(lambda: b.find("#submit").is_enabled() and not b.shown("#blocked"), message="Seedance's 5,000 limit still blocks the prompt")
    b.js("var p = document.getElementById('prompt'); p.value = ''; p.dispatchEvent(new Event('input', {bubbles: true}));")
    b.driver.set_window_size(390, 844)
    try:
        b.choose_model(VEO)
        sizes = b.js("return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};")
        expect(sizes["scroll"] <= sizes["inner"], f"the composer makes the phone page scroll sideways: {sizes}")
        b.shot("03b-options-veo-phone")
        b.choose_model(MARKET)
        b.shot("03b-options-grok-phone")
    finally:
        b.driver.set_window_size(1280, 900)


def card_specs(b, video_id):
    return b.js("""var c = document.getElementById('video-' + arguments[0]);
        function t(s) { var e = c.querySelector(s); return e ? e.textContent : null; }
        var s = c.querySelector('[data-testid=sound-mark]');
        return {model: t('[data-testid=card-model]'), ratio: t('[data-testid=card-ratio]'), resolution: t('[data-testid=card-resolution]'),
                sound: s ? s.dataset.audio : null, soundTitle: s ? s.getAttribute('title') : null, specs: t('.specs')};""", video_id)


def expect_card(b, state, video_id, model_id, duration, ratio, resolution, audio):
    model = state["models"][model_id]
    specs = card_specs(b, video_id)
    expect(specs["model"] == model["name"], f"the card names the model {specs['model']!r}, not {model['name']!r}")
    expect(specs["ratio"] == ratio and specs["resolution"] == resolution, f"the card shows {specs['ratio']} {specs['resolution']}")
    expect(words(VI, "duration.seconds", seconds=duration) in specs["specs"], f"the card does not show {duration} s: {specs['specs']!r}")
    expect(specs["sound"] == ("true" if audio else "false") and specs["soundTitle"] == VI["card.sound_on" if audio else "card.sound_off"],
           f"the card's sound mark is {specs['sound']} ({specs['soundTitle']!r})")
    price = catalog_price(model, duration, resolution, audio)
    expect(words(VI, "credits.amount", amount=price) in specs["specs"], f"the card does not show the price {price}: {specs['specs']!r}")


def wait_made(b, video_id, what):
    """Waits for a video to complete and play. When this server's provider simulator cannot make it
    (it answers 404 for the model: see the brief), the step is skipped with that reason, after the
    card has shown the failure and the refund."""
    status = b.wait_status(video_id, {"completed", "failed"})
    if status == "failed":
        video = b.api(f"/api/v1/videos/{video_id}") or {}
        failure = video.get("failure") or {}
        expect(b.text(f"#video-{video_id} .failure-message") == failure.get("message"), "the failed card does not show failure.message")
        expect(b.text(f"#video-{video_id} .refunded") == VI["card.refunded"], "the failed card does not say the credits came back")
        if failure.get("code") == "provider_error" and str(failure.get("provider_code")) == "404":
            raise Skipped(f"{what}: made with the right options and shown, but this build's provider simulator answers "
                          f"404 '{failure.get('provider_message')}' for {video.get('model')} ({video.get('mode')}), so it cannot finish")
        raise Failed(f"{what} failed: {failure}")
    return b.wait_video(video_id)


def step_text_to_video(b, state):
    b.js("window.__phimNoReload = 'still here';")
    video_id = b.submit("Một chiếc thuyền giấy trôi trên vũng nước lúc hoàng hôn, máy quay chậm", model=MARKET,
                        duration=str(state["models"][MARKET]["durations"][0]), aspect="16:9", resolution="480p")
    state["t2v"] = video_id
    expect(b.card_status(video_id) in ("queued", "submitting", "pending", "processing", "completed"), f"odd first status {b.card_status(video_id)}")
    expect_card(b, state, video_id, MARKET, state["models"][MARKET]["durations"][0], "16:9", "480p", True)
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
    video = b.api(f"/api/v1/videos/{video_id}")
    expect(video["model"] == MARKET and video["resolution"] == "480p" and video["aspect_ratio"] == "16:9" and video["audio"] is True,
           f"the server made {video['model']} {video['aspect_ratio']} {video['resolution']} audio={video['audio']}")


def step_veo(b, state):
    veo = state["models"][VEO]
    expect(veo["available"] is not False, f"{VEO} is paused")
    video_id = b.submit("Cận cảnh giọt mưa rơi trên lá sen, ánh sáng dịu buổi sáng", model=VEO, aspect="16:9")
    state["veo"] = video_id
    expect_card(b, state, video_id, VEO, 8, "16:9", "720p", True)
    video = b.api(f"/api/v1/videos/{video_id}")
    expect(video["model"] == VEO and video["duration"] == 8 and video["price_credits"] == catalog_price(veo, 8, "720p", True),
           f"the server made {video['model']} {video['duration']} s for {video['price_credits']}")
    wait_made(b, video_id, "a Veo 3.1 Lite video")


def running_line(b, video_id):
    return b.js("""var c = document.getElementById('video-' + arguments[0]);
        var r = c && c.querySelector('[data-testid=running]');
        if (!r) return null;
        return {text: r.querySelector('[data-testid=elapsed]').textContent, elapsed: Number(r.querySelector('[data-testid=elapsed]').dataset.elapsed),
                overdue: r.classList.contains('overdue'), percent: !!r.querySelector('.progress-value'), status: c.dataset.status,
                indeterminate: r.querySelector('.progress-track').classList.contains('indeterminate')};""", video_id)


def expected_running(line, typical):
    """'Đang tạo · 0:42 / khoảng 1:00', or '… · lâu hơn thường lệ' past the model's typical time."""
    key = "card.running_long" if line["overdue"] else "card.running"
    return VI[key].replace("{status}", VI["status." + line["status"]]).replace("{elapsed}", clock(line["elapsed"])).replace("{typical}", clock(typical))


def step_running(b, state):
    grok = state["models"][MARKET]
    video_id = b.submit("Mây trôi chậm qua đỉnh núi Phan Xi Păng #slow " + secrets.token_hex(3), model=MARKET,
                        duration=str(grok["durations"][0]), aspect="16:9", resolution="480p")
    state["slow"] = video_id
    first = b.wait(lambda: running_line(b, video_id), message="the running card shows no elapsed time")
    typical = grok["typical_seconds"]
    expect(first["text"] == expected_running(first, typical), f"the running card reads {first['text']!r}, expected {expected_running(first, typical)!r}")
    expect("%" not in first["text"] and not first["percent"] and first["indeterminate"], f"the running card shows a percentage or a filled bar: {first}")
    later = b.wait(lambda: running_line(b, video_id) if (running_line(b, video_id) or {}).get("elapsed", 0) >= first["elapsed"] + 2 else None,
                   seconds=6, message="the elapsed time does not count up")
    expect(later["text"] == expected_running(later, typical) and "%" not in later["text"], f"the running card reads {later['text']!r}")
    b.js("document.getElementById('video-' + arguments[0]).scrollIntoView({block: 'center'});", video_id)
    b.shot("04b-running")
    if typical < 25:
        # #slow takes ten times the simulator's usual time: past the model's typical time, it says so.
        over = b.wait(lambda: running_line(b, video_id) if (running_line(b, video_id) or {}).get("overdue") else None,
                      seconds=typical + 8, message=f"past the typical {typical} s the card does not say it takes longer than usual")
        expect(over["text"] == expected_running(over, typical), f"past the typical time the card reads {over['text']!r}")
        b.shot("04b-running-long")
    b.driver.set_window_size(390, 844)
    try:
        b.js("document.getElementById('video-' + arguments[0]).scrollIntoView({block: 'start'});", video_id)
        line = running_line(b, video_id)
        if line:
            expect("%" not in line["text"], f"on a phone the running card reads {line['text']!r}")
        b.shot("04b-running-phone")
    finally:
        b.driver.set_window_size(1280, 900)


def step_image_to_video(b, state):
    # Picking a file shows it, and it can be taken away again (the drop step below sends one).
    path = os.path.join(state["work"], "reference.png")
    with open(path, "wb") as handle:
        handle.write(png(320, 180))
    b.choose_model(MARKET)
    expect(b.shown("#attach"), f"{MARKET} takes a starting image, yet the composer offers no image button")
    b.find("#image-input").send_keys(path)
    b.wait(lambda: b.find("#attachment").is_displayed(), message="the chosen image did not show as a preview")
    expect(b.js("return document.getElementById('attachment-preview').src.indexOf('blob:') === 0"), "the preview is not a local blob")
    expect("has-image" in b.find("#composer").get_attribute("class"), "the composer does not mark that it has an image")
    b.wait(lambda: preview_size(b), message="the picked image's preview never loaded")
    expect(not b.find("#ratio-note").is_displayed(), "a 16:9 image in a 16:9 frame shows a note")
    b.shot("05-image-picked")
    b.find("#remove-image").click()
    expect(not b.find("#attachment").is_displayed(), "remove did not take the image away")


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


def preview_size_if(b, fits):
    """The preview's size when it fits, read once: the image can be mid-replacement between two reads."""
    size = preview_size(b)
    return size if size and fits(size) else None


def step_drop_crop(b, state):
    b.open("/")
    b.wait_gallery()
    b.choose_model(MARKET)
    b.choose("aspect_ratio", "16:9")
    dropped = b.driver.execute_async_script(DROP_IMAGE)
    expect(dropped["highlighted"] and not dropped["after"], f"the composer's drop highlight: {dropped}")
    b.wait(lambda: b.find("#attachment").is_displayed(), message="the dropped image did not show as a preview")
    b.wait(lambda: preview_size(b), message="the dropped image's preview never loaded")
    expect(preview_size(b)[:2] == [400, 300], f"the preview is {preview_size(b)}")
    b.wait(lambda: b.find("#ratio-note").is_displayed(), message="a 4:3 image in a 16:9 frame shows no note")
    expect(b.text("#ratio-text") == words(VI, "composer.ratio_mismatch", width=400, height=300, ratio="16:9"),
           f"the note reads {b.text('#ratio-text')!r}")
    b.shot("05b-ratio-note")
    b.find("#crop-image").click()
    size = b.wait(lambda: preview_size_if(b, lambda s: s[1] != 300), message="cropping did not replace the image")
    expect(abs(size[0] / size[1] - 16 / 9) < 0.01 and size[0] == 400, f"the 16:9 crop is {size}")
    expect(not b.find("#ratio-note").is_displayed(), "the note stayed after cropping")
    # Switching the frame checks again; the 9:16 crop, then the 1:1 one.
    b.choose("aspect_ratio", "9:16")
    b.wait(lambda: b.find("#ratio-note").is_displayed(), message="switching to 9:16 shows no note for a 16:9 image")
    expect(b.text("#ratio-text") == words(VI, "composer.ratio_mismatch", width=size[0], height=size[1], ratio="9:16"), f"the note reads {b.text('#ratio-text')!r}")
    b.find("#crop-image").click()
    size = b.wait(lambda: preview_size_if(b, lambda s: s[0] < size[0]), message="the 9:16 crop did not replace the image")
    expect(abs(size[0] / size[1] - 9 / 16) < 0.02, f"the 9:16 crop is {size}")
    expect(not b.find("#ratio-note").is_displayed(), "the note stayed after the 9:16 crop")
    b.choose("aspect_ratio", "1:1")
    b.wait(lambda: b.find("#ratio-note").is_displayed(), message="switching to 1:1 shows no note for a 9:16 image")
    b.find("#crop-image").click()
    size = b.wait(lambda: preview_size_if(b, lambda s: s[0] == s[1]), message="the 1:1 crop did not replace the image")
    expect(not b.find("#ratio-note").is_displayed(), "the note stayed after the 1:1 crop")
    b.driver.set_window_size(390, 844)
    try:
        b.choose("aspect_ratio", "16:9")
        b.wait(lambda: b.find("#ratio-note").is_displayed(), message="back to 16:9 shows no note")
        b.shot("05c-ratio-note-phone")
        sizes = b.js("return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};")
        expect(sizes["scroll"] <= sizes["inner"], f"the note makes the phone page scroll sideways: {sizes}")
    finally:
        b.driver.set_window_size(1280, 900)
    # What is uploaded is the cropped picture, in the frame chosen.
    video_id = b.submit("Một chú mèo nhìn ra cửa sổ, khung vuông", model=MARKET, aspect="1:1", resolution="480p")
    # One read: the card is drawn anew as its status moves (queued, then sent).
    mode, aspect = b.js("var c = document.getElementById('video-' + arguments[0]); return [c.dataset.mode, c.dataset.aspect];", video_id)
    expect(mode == "image_to_video", "the dropped image did not make an image-to-video")
    expect(aspect == "1:1", "the card is not a 1:1 one")
    image_url = b.api(f"/api/v1/videos/{video_id}")["image_url"]
    uploaded = b.driver.execute_async_script("""var done = arguments[arguments.length - 1], i = new Image();
        i.onload = function () { done([i.naturalWidth, i.naturalHeight]); }; i.onerror = function () { done(null); }; i.src = arguments[0];""", image_url)
    expect(uploaded == size[:2], f"the uploaded image is {uploaded}, the crop was {size[:2]}")
    expect(not b.find("#attachment").is_displayed(), "the composer kept the image after sending")
    expect_card(b, state, video_id, MARKET, state["models"][MARKET]["durations"][0], "1:1", "480p", True)
    wait_made(b, video_id, "an image-to-video from a cropped 1:1 image")


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
    b.choose_model(MARKET)
    b.choose("duration", str(state["models"][MARKET]["durations"][0]))
    b.choose("resolution", "480p")
    Select(b.find("#variants")).select_by_value("2")
    each = b.wait(lambda: int(b.find("#price-amount").get_attribute("data-value") or 0) // 2 or None, message="no price for two")
    Select(b.find("#variants")).select_by_value("1")
    one = int(b.find("#price-amount").get_attribute("data-value"))
    Select(b.find("#variants")).select_by_value("2")
    two = int(b.find("#price-amount").get_attribute("data-value"))
    expect(two == 2 * one and each == one, f"the price for two is {two}, for one {one}")
    grok = state["models"][MARKET]
    expect(one == catalog_price(grok, grok["durations"][0], "480p", True), f"one Grok video is priced {one}")
    expect(b.text("#price-each") == words(VI, "composer.price_each", count=2, each=one), f"the price per video reads {b.text('#price-each')!r}")
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
    # Views are counted in memory and written every 2 s.
    b.wait(lambda: (b.api(f"/api/v1/videos/{video_id}") or {}).get("share_views", 0) >= 1, 10, "the view was never written")
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


SENT = ("submitting", "pending", "processing")


def set_queue_limit(b, state, per_10s, reason):
    cookies = state["admin_cookies"]
    status, answer, _ = http(b.base, "PUT", "/api/v1/admin/queue/limits", {"creates_per_10s": per_10s, "reason": reason},
                             headers={"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", ""))}, cookies=cookies)
    expect(status == 200, f"setting the queue's limit to {per_10s} answered {status} {answer}")


def rough_wait(table, seconds):
    """The card's rough wait, rounded as cards.js rounds it: to 5 s under a minute, then minutes, then hours."""
    whole = max(0, int(seconds))
    if whole == 0:
        return table["card.wait_soon"]
    fives = -(-whole // 5) * 5
    if fives < 60:
        return words(table, "card.wait_seconds", seconds=fives)
    if whole < 3570:
        return words(table, "card.wait_minutes", minutes=max(1, int(whole / 60 + 0.5)))
    return words(table, "card.wait_hours", hours=int(whole / 3600 + 0.5))


def expected_queue(position, wait):
    """'Đang xếp hàng · thứ 3 · khoảng 20 giây' (Vietnamese has one ordinal form)."""
    return words(VI, "card.queued", status=VI["status.queued"], place=words(VI, "card.ordinal_other", n=position), wait=rough_wait(VI, wait))


def seconds_of(iso):
    """Unix seconds of the API's '2026-12-07T02:50:09.553Z'."""
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def queue_line(b, video_id):
    return b.js("""var c = document.getElementById('video-' + arguments[0]);
        var q = c && c.querySelector('[data-testid=queue-text]');
        if (!q) return null;
        return {text: q.textContent, status: c.dataset.status, position: q.dataset.position ? Number(q.dataset.position) : null,
                wait: q.dataset.wait ? Number(q.dataset.wait) : null, overflow: q.parentNode.scrollWidth > q.parentNode.clientWidth + 1};""", video_id)


def shot_at_phone(b, name, css, above=110):
    """A screenshot at 390×844 with the element near the top of the screen (the composer covers the bottom)."""
    b.driver.set_window_size(390, 844)
    try:
        b.js("var e = document.querySelector(arguments[0]); window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - arguments[1]);", css, above)
        expect(b.shown(css), f"{name}: {css} is not shown on a phone")
        time.sleep(0.3)
        width = b.js("return [document.documentElement.scrollWidth, window.innerWidth];")
        expect(width[0] <= width[1], f"{name}: the phone page scrolls sideways {width}")
        b.shot(name)
    finally:
        b.driver.set_window_size(1280, 900)


def click_card(b, video_id, css):
    """Clicks an element of a card, found again if a live update drew the card anew meanwhile."""
    def attempt():
        element = b.card(video_id, css)
        if element is None:
            return None
        center(b, element).click()
        return True
    b.wait(attempt, message=f"could not click {css} on the card of {video_id}")


def step_queue(b, state):
    """With the provider queue lowered to one create per 10 s, four videos queue: the last card says
    its place and rough wait as the API does, and they move without a reload; canceling a queued one
    refunds at once (the header's balance rises by its price); canceling a sent one first says that
    the provider cannot stop it, then refunds nothing, the card steps aside, and the video still arrives."""
    if not (state.get("phim") and state.get("data")):
        raise Skipped("no --phim and --data: the queue step needs an administrator to lower the queue's limit")
    if "admin_cookies" not in state:
        state["admin_cookies"] = make_admin(state["phim"], state["data"], b.base)[3]
    grok = state["models"][MARKET]
    seconds = grok["durations"][0]
    options = {"model": MARKET, "duration": str(seconds), "aspect": "16:9", "resolution": "480p"}
    price = catalog_price(grok, seconds, "480p", True)
    b.js("window.__phimNoReload = 'queue';")
    set_queue_limit(b, state, 1, "e2e: a queue for the studio's cards")
    try:
        tag = secrets.token_hex(3)
        slow = b.submit(f"Sương sớm trên ruộng bậc thang #slow {tag}", **options)
        state["queue_slow"] = slow
        made = [b.submit(f"Hàng đợi {n}: thuyền thúng trên biển Mũi Né {tag}", **options) for n in (1, 2, 3)]
        last = made[-1]

        # The last card says where it stands, as the gallery's API says it (both read again until they agree).
        def agreed():
            line = queue_line(b, last)
            video = next((v for v in (b.api("/api/v1/videos?limit=10") or {}).get("data", []) if v["id"] == last), {})
            if line and line["position"] and (video.get("queue_position"), video.get("estimated_start_seconds")) == (line["position"], line["wait"]):
                return line
            return None
        first = b.wait(agreed, message=f"the queued card's place never matched the API's ({queue_line(b, last)})")
        expect(first["status"] == "queued" and b.text(f"#video-{last} [data-testid=status]") == VI["status.queued"],
               f"the queued card's badge reads {b.text(f'#video-{last} [data-testid=status]')!r}")
        expect(first["position"] >= 2, f"the fourth video of a queue sending one per 10 s is only {first['position']}")
        expect(first["text"] == expected_queue(first["position"], first["wait"]),
               f"the queued card reads {first['text']!r}, expected {expected_queue(first['position'], first['wait'])!r}")
        expect(first["wait"] >= 10 * (first["position"] - 1), f"{first['position']} in a queue of one per 10 s waits only {first['wait']} s")
        expect(not first["overflow"], "the queue line overflows its card")
        cancel = b.text(f'#video-{last} [data-action="cancel"]')
        expect(cancel == VI["card.cancel_refund"], f"the queued card's cancel reads {cancel!r}")
        b.js("document.getElementById('video-' + arguments[0]).scrollIntoView({block: 'center'});", last)
        b.shot("04e-queued")
        shot_at_phone(b, "04e-queued-phone", f"#video-{last}")

        # The queue moves: the place changes on the card, live, without a reload.
        moved = b.wait(lambda: (lambda line: line if line and line["position"] and line["position"] < first["position"] else None)(queue_line(b, last)),
                       seconds=25, message=f"the queued card's place did not move from {first['position']} ({queue_line(b, last)})")
        expect(moved["text"] == expected_queue(moved["position"], moved["wait"]), f"after moving the card reads {moved['text']!r}")
        expect(b.js("return window.__phimNoReload") == "queue", "the page reloaded while the queue moved")

        # Once sent, a card counts its running time from the send: its time in the queue is not generation.
        def sent_and_running():
            line = running_line(b, made[0])
            video = next((v for v in (b.api("/api/v1/videos?limit=10") or {}).get("data", []) if v["id"] == made[0]), {})
            return (line, video, time.time()) if line and video.get("sent_at") and video["status"] in SENT else None
        line, video, now = b.wait(sent_and_running, seconds=25, message=f"the first queued video never showed as sent ({b.card_status(made[0])})")
        queued_for = seconds_of(video["sent_at"]) - seconds_of(video["created_at"])
        expect(queued_for >= 3, f"the first queued video waited only {queued_for:.1f} s in a queue of one per 10 s")
        expect(line["elapsed"] <= now - seconds_of(video["sent_at"]) + 1.5,
               f"the sent card counts {line['elapsed']} s, {now - seconds_of(video['sent_at']):.1f} s after its send (its queue time counted as running)")

        # Cancel while queued: canceled and refunded at once, the header's balance rises by its price.
        available = b.balance()[0]
        click_card(b, last, '[data-action="cancel"]')
        b.wait_status(last, {"canceled"}, UI_TIMEOUT)
        expect(b.text(f"#video-{last} .refunded") == VI["card.refunded"], "the canceled queued card does not say the credits came back")
        b.wait(lambda: b.balance()[0] == available + price, message=f"the balance did not rise by {price}: {available} -> {b.balance()[0]}")
        video = b.api(f"/api/v1/videos/{last}")
        expect(video["status"] == "canceled" and video["credits_refunded"] is True and video["sent_at"] is None, f"the canceled video: {video}")

        # Cancel once sent: it asks first and says what it costs.
        b.wait_status(slow, set(SENT), seconds=30)
        ask = b.wait(lambda: b.text(f'#video-{slow} [data-action="ask-stop"]'), message="the sent card has no cancel")
        expect(ask == VI["card.cancel"], f"the sent card's cancel reads {ask!r}")
        click_card(b, slow, '[data-action="ask-stop"]')
        question = f"#video-{slow} [data-testid=confirm-stop]"
        b.wait(lambda: b.shown(question), message="cancel on a sent video did not ask first")
        expect(b.text(question + " .confirm-question") == VI["card.confirm_stop"], f"the question reads {b.text(question + ' .confirm-question')!r}")
        expect(not b.shown(f"#video-{slow} .card-actions"), "the card's buttons stay beside the question")
        b.shot("04e-stop-confirm")
        shot_at_phone(b, "04e-stop-confirm-phone", question, above=190)
        click_card(b, slow, '[data-action="keep-waiting"]')
        expect(not b.shown(question) and b.card(slow, "[data-testid=stopped-waiting]") is None, "'keep waiting' did not keep the card as it was")
        available = b.balance()[0]
        click_card(b, slow, '[data-action="ask-stop"]')
        b.wait(lambda: b.shown(question), message="the question did not show again")
        click_card(b, slow, '[data-action="confirm-stop"]')
        b.wait(lambda: b.card(slow, "[data-testid=stopped-waiting]"), message="stopping the wait did not set the card aside")
        expect(b.text(f"#video-{slow} [data-testid=stopped-waiting]") == VI["card.stopped_waiting"],
               f"the set-aside card reads {b.text(f'#video-{slow} [data-testid=stopped-waiting]')!r}")
        video = b.api(f"/api/v1/videos/{slow}")
        expect(video["stopped_waiting"] is True and video["status"] in SENT and video["credits_refunded"] is False, f"after stopping the wait: {video}")
        b.wait(lambda: next((t.text for t in b.all("#toasts .alert-text") if t.text == VI["toast.stopped_waiting"]), None),
               message=f"no toast says the wait stopped without a refund: {[t.text for t in b.all('#toasts .alert-text')]}")
        b.js("document.querySelectorAll('#toasts .alert-close').forEach(function (c) { c.click(); });")  # for the screenshot
        b.js("document.getElementById('video-' + arguments[0]).scrollIntoView({block: 'center'});", slow)
        time.sleep(0.3)
        b.shot("04e-stopped-waiting")
        shot_at_phone(b, "04e-stopped-waiting-phone", f"#video-{slow}")
        # Nothing comes back, and the video still arrives, charged, like any other.
        b.wait_video(slow, seconds=60)
        video = b.api(f"/api/v1/videos/{slow}")
        expect(video["status"] == "completed" and video["credits_refunded"] is False, f"the video that was not waited for: {video}")
        expect(b.balance()[0] == available, f"stopping the wait moved the balance: {available} -> {b.balance()[0]}")
        expect(b.js("return window.__phimNoReload") == "queue", "the page reloaded")
        b.js("document.getElementById('video-' + arguments[0]).scrollIntoView({block: 'center'});", slow)
        b.shot("04e-arrived")
    finally:
        set_queue_limit(b, state, 1000, "e2e: the queue's limit back after the studio's queue step")
    for video_id in made[:-1]:
        b.wait_status(video_id, {"completed"}, seconds=JOB_TIMEOUT)


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
    b.choose_model(VEO)  # "try again" must bring the failed video's own model and options back
    center(b, retry).click()
    expect(b.find("#prompt").get_attribute("value") == "Một con mèo nhảy qua hàng rào #fail", "try again did not refill the prompt")
    video = b.api(f"/api/v1/videos/{video_id}")
    expect(b.chosen_model() == video["model"], f"try again chose {b.chosen_model()}, the video was made with {video['model']}")
    expect([b.choices(name)[1] for name in ("duration", "aspect_ratio", "resolution")] == [str(video["duration"]), video["aspect_ratio"], video["resolution"]],
           f"try again set {[b.choices(n)[1] for n in ('duration', 'aspect_ratio', 'resolution')]}, the video had {video['duration']} {video['aspect_ratio']} {video['resolution']}")
    b.find("#prompt").clear()


def step_hostile_double_submit(b, state):
    # A prompt with markup, sent with a double click and a form submit at once: one video, shown as text.
    hostile = '<img src=x onerror=alert(1)> "quoted" & <b>bold</b> #fail ' + secrets.token_hex(3)
    b.choose_model(MARKET)
    before = set(b.card_ids())
    b.find("#prompt").clear()
    b.find("#prompt").send_keys(hostile)
    b.wait(lambda: b.find("#submit").is_enabled(), message="the submit button stayed disabled")
    b.js("var s = document.getElementById('submit'); s.click(); s.click(); document.getElementById('composer').requestSubmit();")
    video_id = b.wait(lambda: next((i for i in b.card_ids() if i not in before), None), message="no card appeared")
    state["hostile"] = video_id
    shown = b.text(f"#video-{video_id} .prompt")
    expect(shown == hostile, f"the prompt is not shown literally: {shown!r}")
    expect(b.card(video_id, ".prompt img") is None and b.card(video_id, ".prompt b") is None, "markup in the prompt became elements")
    b.wait_status(video_id, {"failed"})
    listed = b.api("/api/v1/videos?limit=50")
    expect(listed is not None, "could not list the videos")
    made = [video for video in listed.get("data", []) if video.get("prompt") == hostile]
    expect(len(made) == 1, f"a double click made {len(made)} videos")
    expect(len([i for i in b.card_ids() if i not in before]) == 1, "the gallery shows more than one new card")
    try:
        alert = b.driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise Failed(f"an alert ran: {text!r}")
    except NoAlertPresentException:
        pass


def step_delete(b, state):
    video_id = state["hostile"]
    center(b, b.card(video_id, '[data-action="delete"]')).click()
    confirm = b.card(video_id, '[data-testid="confirm-delete"]')
    b.wait(lambda: confirm.is_displayed(), message="delete did not ask first")
    b.shot("08a-delete-confirm")
    center(b, b.card(video_id, '[data-action="keep"]')).click()
    expect(b.card_status(video_id) is not None and not confirm.is_displayed(), "'keep' did not keep the video")
    center(b, b.card(video_id, '[data-action="delete"]')).click()
    b.wait(lambda: b.card(video_id, '[data-action="confirm-delete"]').is_displayed(), message="the confirmation did not show again")
    center(b, b.card(video_id, '[data-action="confirm-delete"]')).click()
    b.wait(lambda: b.card_status(video_id) is None, message="the deleted card stayed")
    b.open("/")
    b.wait_gallery()
    b.wait(lambda: state["t2v"] in b.card_ids(), message="the gallery lost the finished video after a reload")
    expect(b.card_status(video_id) is None, "the deleted video came back after a reload")


# A queued video drawn by the studio's own modules at a given place and wait, read, then taken out.
QUEUED_VIDEO = """var done = arguments[arguments.length - 1], position = arguments[0], wait = arguments[1];
    import('/js/studio/feed.js').then(function (feed) {
      var id = 'e2e-queued-' + position + '-' + wait;
      feed.applyVideo({id: id, status: 'queued', mode: 'text_to_video', model: 'grok-imagine', prompt: 'e2e: a queued video',
                       aspect_ratio: '16:9', duration: 6, resolution: '480p', audio: true, price_credits: 3400, queue_position: position,
                       estimated_start_seconds: wait, created_at: '2020-01-02T03:04:05Z', updated_at: '2020-01-02T03:04:05Z'}, 'end');
      var card = document.getElementById('video-' + id);
      var text = card && card.querySelector('[data-testid=queue-text]').textContent;
      if (card) card.remove();
      done(text);
    }, function (error) { done('import failed: ' + error); });"""


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
    # The picker in English: the catalog asked again in English, prices grouped with commas.
    english_models = b.driver.execute_async_script("""var done = arguments[arguments.length - 1];
        fetch('/api/v1/models', {headers: {'Accept-Language': 'en'}}).then(function (r) { return r.json(); }).then(done, function () { done(null); });""")
    b.open_picker()
    b.wait(lambda: b.js("return Array.prototype.map.call(document.querySelectorAll('#model-list .model-option-description'), function (d) { return d.textContent; });")
           == [m["description"] for m in english_models["models"]], message="the models' descriptions are not in English")
    rows = picker_rows(b)
    for row, model in zip(rows, english_models["models"]):
        credits = [p["credits"] for p in model["prices"]]
        text = words(EN, "credits.amount", amount=min(credits)) if min(credits) == max(credits) else words(EN, "model.price_range", **{"from": min(credits), "to": max(credits)})
        expect(row["price"] == text, f"{model['id']} reads {row['price']!r} in English, expected {text!r}")
    b.shot("09b-model-picker-english")
    b.find("#model-button").click()
    if state.get("t2v"):
        expect(b.text(f"#video-{state['t2v']} [data-testid=sound-mark]") is not None
               and b.card(state["t2v"], "[data-testid=sound-mark]").get_attribute("title") == EN["card.sound_on"], "the card's sound mark is not English")
    # A queued card in English: "Queued · 3rd · about 20 s".
    for position, wait, ordinal, rough in ((3, 20, "card.ordinal_few", words(EN, "card.wait_seconds", seconds=20)),
                                           (1, 0, "card.ordinal_one", EN["card.wait_soon"]),
                                           (2, 95, "card.ordinal_two", words(EN, "card.wait_minutes", minutes=2)),
                                           (11, 3600, "card.ordinal_other", words(EN, "card.wait_hours", hours=1))):
        expected = words(EN, "card.queued", status=EN["status.queued"], place=words(EN, ordinal, n=position), wait=rough)
        shown = b.driver.execute_async_script(QUEUED_VIDEO, position, wait)
        expect(shown == expected, f"a queued card {position}, {wait} s reads {shown!r} in English, expected {expected!r}")
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
    default = next(m for m in state["catalog"]["models"] if m["default"])
    b.wait(lambda: f'"model": "{default["id"]}"' in b.text("#curl-example"), message="the curl example does not use the catalog's default model")
    expect("/api/v1/models" in b.text("#curl-example") and "sora" not in b.text("#curl-example"), "the curl example does not show the models or still names Sora")
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
        for model_id in (MARKET, VEO, "seedance-2-mini"):
            b.choose_model(model_id)
            composer = b.js("""var r = document.getElementById('composer').getBoundingClientRect(), c = document.getElementById('styles').getBoundingClientRect();
                               return {height: r.height, chips: c.height, screen: window.innerHeight, scroll: document.documentElement.scrollWidth, inner: window.innerWidth};""")
            expect(composer["height"] <= 0.42 * composer["screen"], f"with {model_id} the composer takes {composer['height']:.0f} of {composer['screen']} px on a phone")
            expect(composer["chips"] <= 40, f"the style chips take {composer['chips']:.0f} px (more than one line) on a phone")
            expect(composer["scroll"] <= composer["inner"], f"with {model_id} the composer makes the phone page scroll sideways: {composer}")
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
    ("03-signin-demo", "the demo account signs in; the catalog's default model is chosen first and priced as the catalog says", step_signin_demo),
    ("03a-models", "the picker lists the catalog's models in order, each with its price range (grouped 4.500), sound, image, lengths and resolutions; at phone width too", step_models),
    ("03a-old-video", "an old Sora video's card names it from the catalog's withdrawn models ('Sora 2'); the picker never offers one", step_old_video),
    ("03b-options", "the composer offers the chosen model's options only (Veo: no 1:1, one length; Grok: sound always), keeps what still applies, the price follows, the prompt limit is the model's", step_options),
    ("03c-styles", "style chips add their words to the prompt and take them out again", step_styles),
    ("03d-paused", "a video the provider refuses (model_unavailable) fails on its card in the server's words, refunded; the picker, read again, greys the model", step_paused),
    ("04-text-to-video", "a Grok Imagine (Market) text-to-video completes without a reload and plays; its card names the model, ratio, length, resolution and sound", step_text_to_video),
    ("04a-veo", "a Veo 3.1 Lite video (7,000) is made with Veo's options and named on its card", step_veo),
    ("04b-running", "a running card shows elapsed time against the model's typical time, never a percentage; past it, 'longer than usual'; at phone width too", step_running),
    ("04c-batch", "×2 shows twice the price, makes two cards at once, both complete and play from their media_url", step_batch),
    ("04d-share", "share shows the link (kept after a reload), the public page plays, stop sharing makes it 404", step_share),
    ("04e-queue", "queued cards say their place and wait ('Đang xếp hàng · thứ 3 · khoảng 20 giây') and move live; a queued cancel refunds at once, a sent one asks first, refunds nothing and the video still arrives", step_queue),
    ("05-image", "a picked PNG shows as a preview (no note when it fits the frame) and can be taken away", step_image_to_video),
    ("05b-drop-crop", "a dropped 4:3 image is attached, the frame mismatch is shown, 'crop to frame' makes 16:9, 9:16 then 1:1, the crop is uploaded and the image-to-video completes", step_drop_crop),
    ("06-fail-refund", "a #fail video shows its reason, 'credits refunded', the balance comes back, and 'try again' brings back its model and options", step_fail_refund),
    ("07-hostile-double-submit", "a prompt with markup, sent with a double click, makes one video, shown as text, running nothing", step_hostile_double_submit),
    ("08-delete", "delete asks inline, removes the card, and it stays gone after a reload", step_delete),
    ("09-english", "the language switch turns the studio and the model picker English, and it stays English after a reload", step_english),
    ("10-credits", "the credits page lists the ledger (hold, settle, release)", step_credits),
    ("11-keys", "the keys page makes a working key (its curl example uses the catalog's default model), then revokes it after asking", step_keys),
    ("12-phone", "at 390x844 the studio has one column, the composer at the bottom, no sideways scroll, whatever the model", step_phone),
    ("13-console", "no unexpected errors in the browser console (CSP violations included)", step_console),
]


def main():
    parser = argparse.ArgumentParser(description="Phim dashboard browser test")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--screenshots", default=os.path.join(tempfile.gettempdir(), "phim-browser-screenshots"))
    parser.add_argument("--only", help="comma-separated step prefixes to run (for debugging)")
    parser.add_argument("--paused-model", help="a catalog model whose provider id the service's simulator refuses (PHIM_SIMULATOR_PAUSED_MODELS)")
    parser.add_argument("--phim", help="the phim binary of the running service (with --data: the queue step makes an administrator)")
    parser.add_argument("--data", help="the running service's data directory")
    options = parser.parse_args()
    browser = Browser(options.base_url, options.screenshots)
    state = {"work": tempfile.mkdtemp(prefix="phim-browser-"), "paused_model": options.paused_model,
             "phim": options.phim, "data": options.data}
    try:
        passed, failed, skipped = run_steps(browser, STEPS, state, options.only)
    finally:
        browser.quit()
    print(f"screenshots: {options.screenshots}")
    print(summary(passed, failed, skipped))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

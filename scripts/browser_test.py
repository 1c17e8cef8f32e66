#!/usr/bin/env python3
"""Drives the studio in headless Chromium the way a person would, against a real `phim serve`
in demo mode (the simulator answers as Kie would, with callbacks).

Usage: browser_test.py PATH_TO_PHIM [SCREENSHOT_DIR]

Screenshots of the main states are saved (default `artifacts/screenshots`) to be looked at.
Needs Debian's chromium and chromium-driver and PyPI's selenium; scripts/test.sh installs them.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import Checks, Processes, free_port, png, wait_healthy

PHIM = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/phim"
SHOTS = sys.argv[2] if len(sys.argv) > 2 else "artifacts/screenshots"
check = Checks()

class Studio:
    """The browser, with the few gestures the checks need."""

    def __init__(self, base):
        self.base = base
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                     "--window-size=1440,900", "--lang=vi-VN", "--disable-gpu", "--mute-audio"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.set_window_size(1440, 900)

    def open(self, path):
        self.driver.get(self.base + path)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, condition, seconds=30):
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.1).until(lambda _: condition())
        except TimeoutException:
            return None

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SHOTS, name + ".png"))

    def text(self, css):
        return self.find(css).text.strip()

    def balance(self):
        return self.text("#balance-available"), self.text("#balance-held")

    def sign_in(self, email, password):
        self.open("/signin")
        self.find('input[name="email"]').send_keys(email)
        self.find('input[name="password"]').send_keys(password)
        self.find('form[action="/signin"] button[type="submit"]').click()
        self.wait(lambda: self.driver.current_url.endswith("/studio"), 10)

    def submit(self, prompt, duration="10", image=None):
        box = self.find("#prompt")
        box.clear()
        box.send_keys(prompt)
        self.find(f'input[name="duration"][value="{duration}"]').find_element(By.XPATH, "..").click()
        if image:
            self.find("#image-input").send_keys(image)
        before = {card.get_attribute("data-id") for card in self.all(".card")}
        self.find("#submit").click()
        card = self.wait(lambda: next((c for c in self.all(".card") if c.get_attribute("data-id") not in before), None), 15)
        return card.get_attribute("data-id") if card else None

    def card_status(self, video_id):
        return self.js("var c = document.getElementById('video-' + arguments[0]); return c ? c.dataset.status : null;", video_id)

    def watch(self, video_id, until, seconds=60):
        """Records the card's status as it changes, until one of `until` or the time runs out."""
        seen = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            status = self.card_status(video_id)
            if status and (not seen or seen[-1] != status):
                seen.append(status)
            if status in until:
                break
            time.sleep(0.1)
        return seen

    def api(self, method, path):
        """Calls the JSON API from the page, with its cookie and token, as the studio does."""
        return self.driver.execute_async_script("""
            var done = arguments[arguments.length - 1];
            fetch(arguments[1], {method: arguments[0], headers: {"Accept": "application/json",
                  "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content}})
              .then(function (r) { return r.text().then(function (t) { done({status: r.status, body: t}); }); });
        """, method, path)

    def columns(self):
        return self.js("return getComputedStyle(document.getElementById('gallery')).gridTemplateColumns.split(' ').length;")

    def quit(self):
        self.driver.quit()

def main():
    processes = Processes(PHIM, "phim-browser-")
    work = processes.work
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"DATABASE_URL": os.path.join(work, "phim.sqlite"), "PHIM_DATA_DIR": os.path.join(work, "data"),
           "PHIM_SIMULATOR_DELAY_SECONDS": "6", "PHIM_BCRYPT_COST": "4",
           "PHIM_RECONCILE_INTERVAL_SECONDS": "2", "PHIM_STALE_AFTER_SECONDS": "4"}
    image_path = os.path.join(work, "reference.png")
    with open(image_path, "wb") as f:
        f.write(png(320, 180))
    processes.start(["serve", "--port", str(port)], env, "serve.log")
    check("server answers /healthz", wait_healthy(base))
    studio = Studio(base)
    try:
        run(studio, image_path)
    except Exception as error:  # a crash in a step is a failed check, with the page kept for a look
        check("browser steps ran to the end", False, repr(error))
        studio.shot("zz-crash")
    finally:
        # Expected answers the browser logs as failed loads: the wrong password (401), too few
        # credits (402), and the event stream while the test blocks it.
        expected = ("/signin - Failed to load resource: the server responded with a status of 401",
                    "/api/v1/videos - Failed to load resource: the server responded with a status of 402",
                    "/api/v1/events")
        errors = [entry for entry in studio.driver.get_log("browser") if entry["level"] == "SEVERE"
                  and not any(text in entry["message"] for text in expected)]
        check("no script errors in the browser console", not errors, json.dumps(errors)[:800])
        studio.quit()
        failed = check.failed > 0
        processes.stop(show_logs=failed)
    sys.exit(check.summary("browser tests"))

def run(studio, image_path):
    # --- Sign in with the demo account.
    studio.open("/studio")
    check("a visitor is sent to sign in", studio.driver.current_url.endswith("/signin"))
    check("the sign-in page is in Vietnamese by default", studio.js("return document.documentElement.lang") == "vi"
          and studio.text("h1") == "Chào mừng trở lại")
    studio.shot("01-signin-vi")
    studio.sign_in("demo@phim.local", "wrong-password")
    check("a wrong password shows the error on the form", "không đúng" in studio.text(".alert-error"))
    studio.sign_in("demo@phim.local", "phim-demo")
    check("the demo account signs in to the studio", studio.driver.current_url.endswith("/studio"))
    check("the header shows the demo balance", studio.balance() == ("100.000", "0"), str(studio.balance()))
    check("a new account sees the empty state", studio.find("#empty").is_displayed())
    check("the gallery has 4 columns on a wide screen", studio.columns() == 4, str(studio.columns()))
    studio.shot("02-studio-empty")

    # --- Live price from the price table.
    price = lambda: studio.text("#price-amount")
    check("the price for 10 s standard is 7.000", price() == "7.000", price())
    studio.find('input[name="duration"][value="15"]').find_element(By.XPATH, "..").click()
    check("15 s standard costs 10.500", price() == "10.500", price())
    Select(studio.find('select[name="tier"]')).select_by_value("pro_high")
    check("15 s Pro 1080p costs 147.000", price() == "147.000", price())
    Select(studio.find('select[name="tier"]')).select_by_value("standard")

    # --- Text to video: pending -> processing -> completed, then it plays.
    video_id = studio.submit("Một chiếc thuyền giấy trôi trên vũng nước lúc hoàng hôn, máy quay chậm")
    check("the new video appears at the top of the gallery", video_id is not None
          and studio.all(".card")[0].get_attribute("data-id") == video_id)
    check("the empty state is gone", not studio.find("#empty").is_displayed())
    studio.wait(lambda: studio.balance() == ("93.000", "7.000"), 5)
    check("the price moves to 'on hold' at once", studio.balance() == ("93.000", "7.000"), str(studio.balance()))
    studio.wait(lambda: studio.card_status(video_id) == "processing", 20)
    seen = [studio.card_status(video_id)]
    studio.shot("03-studio-processing")
    seen = ["pending"] + studio.watch(video_id, {"completed", "failed"}) if seen == ["processing"] else seen
    check("the card went pending -> processing -> completed without a reload",
          seen[-1:] == ["completed"] and "processing" in seen, str(seen))
    studio.wait(lambda: studio.balance() == ("93.000", "0"), 5)
    check("completion spends the hold", studio.balance() == ("93.000", "0"), str(studio.balance()))
    duration = studio.wait(lambda: studio.js(
        "var v = document.querySelector('#video-' + arguments[0] + ' video'); return v && v.duration > 0 ? v.duration : null;",
        video_id), 20)
    check("the finished video plays inline (duration > 0)", (duration or 0) > 0, str(duration))
    playing = studio.js("""
        var v = document.querySelector('#video-' + arguments[0] + ' video'); v.muted = true;
        return v.play().then(function () { return true; }, function () { return false; });""", video_id)
    check("the video starts playing", playing is True)
    download = studio.find(f"#video-{video_id} a[download]").get_attribute("href")
    landed = studio.js("return fetch(arguments[0], {credentials: 'same-origin', method: 'HEAD'}).then(function (r) { return r.url; });", download)
    check("download goes through Phim's link, which lands on the provider's file (never copied to Phim)",
          download.lower().endswith(f"/api/v1/videos/{video_id}/media".lower()) and "/simulator/media/" in (landed or ""), (download, landed))
    studio.shot("04-studio-completed")

    # --- Image to video with an uploaded image.
    studio.find("#image-input").send_keys(image_path)
    check("the chosen image shows as a preview", studio.wait(lambda: studio.find("#attachment").is_displayed(), 5))
    studio.shot("05-composer-image")
    studio.find('[data-action="remove-image"]').click()
    check("remove takes the image away", not studio.find("#attachment").is_displayed())
    i2v_id = studio.submit("Ánh nắng chiếu qua khung cửa, bụi bay lơ lửng", image=image_path)
    video = json.loads(studio.api("GET", f"/api/v1/videos/{i2v_id}")["body"]) if i2v_id else {}
    check("an image-to-video job was created from the uploaded image",
          video.get("mode") == "image_to_video" and "/files/uploads/" in (video.get("image_url") or ""), str(video)[:300])
    check("the image-to-video job completes", studio.watch(i2v_id, {"completed", "failed"})[-1:] == ["completed"])

    # --- A failing job is refunded, and the card says so.
    before = studio.balance()
    fail_id = studio.submit("Một con mèo nhảy qua hàng rào #fail")
    seen = studio.watch(fail_id, {"completed", "failed"})
    check("#fail ends failed", seen[-1:] == ["failed"], str(seen))
    card = studio.find(f"#video-{fail_id}")
    check("the failed card shows the reason and the refund",
          card.find_element(By.CSS_SELECTOR, ".failure").text.strip() != ""
          and "Đã hoàn lại tín dụng" in card.find_element(By.CSS_SELECTOR, ".refunded").text)
    studio.wait(lambda: studio.balance() == before, 5)
    check("the balance is back where it was", studio.balance() == before, f"{before} -> {studio.balance()}")
    studio.shot("06-studio-failed")
    card.find_element(By.CSS_SELECTOR, '[data-action="retry"]').click()
    check("try again refills the form", studio.find("#prompt").get_attribute("value") == "Một con mèo nhảy qua hàng rào #fail")
    studio.find("#prompt").clear()

    # --- Cancel while pending: the card says canceled and the credits come back.
    before = studio.balance()
    slow_id = studio.submit("Mây trôi chậm qua đỉnh Fansipan #slow")
    cancel = studio.wait(lambda: next(iter(studio.all(f'#video-{slow_id} [data-action="cancel"]')), None), 10)
    if cancel:
        cancel.click()
    check("a pending video can be canceled", studio.watch(slow_id, {"canceled"}, 10)[-1:] == ["canceled"])
    studio.wait(lambda: studio.balance() == before, 5)
    check("canceling refunds the price", studio.balance() == before, f"{before} -> {studio.balance()}")

    # --- Hostile text is shown as text.
    hostile = '<img src=x onerror="document.body.dataset.pwned=1">"quoted" & <b>bold</b>'
    hostile_id = studio.submit(hostile)
    shown = studio.js("return document.querySelector('#video-' + arguments[0] + ' .prompt').textContent", hostile_id)
    check("a prompt with markup is shown literally and never runs",
          shown == hostile and studio.js("return document.body.dataset.pwned") is None, repr(shown))

    # --- Double submit: one click, one job, even when clicked twice.
    count_before = len(studio.all(".card"))
    studio.find("#prompt").send_keys("Sóng vỗ vào ghềnh đá, trời giông")
    studio.js("var b = document.getElementById('submit'); b.click(); b.click(); "
              "document.getElementById('composer').requestSubmit();")
    studio.wait(lambda: len(studio.all(".card")) > count_before, 10)
    time.sleep(1.5)
    listed = json.loads(studio.api("GET", "/api/v1/videos?limit=100")["body"])["data"]
    check("a double click creates one job", sum(v["prompt"] == "Sóng vỗ vào ghềnh đá, trời giông" for v in listed) == 1)

    # --- Delete, with confirmation; it stays gone after a reload.
    studio.find(f'#video-{hostile_id} [data-action="delete"]').click()
    check("delete asks first", studio.wait(lambda: studio.find("#confirm-dialog").is_displayed(), 5))
    studio.shot("07-delete-confirm")
    studio.find('#confirm-dialog button[value="keep"]').click()
    check("'keep' keeps the video", studio.card_status(hostile_id) is not None)
    studio.find(f'#video-{hostile_id} [data-action="delete"]').click()
    studio.wait(lambda: studio.find("#confirm-dialog").is_displayed(), 5)
    studio.find('#confirm-dialog button[value="confirm"]').click()
    check("the deleted card leaves the gallery", studio.wait(lambda: studio.card_status(hostile_id) is None, 5))
    studio.open("/studio")
    check("and stays gone after a reload", studio.card_status(hostile_id) is None and studio.card_status(video_id) == "completed")

    # --- Fallback: with the event stream blocked, the page polls our API and still updates.
    studio.driver.execute_cdp_cmd("Network.enable", {})
    studio.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/v1/events*"]})
    studio.open("/studio")
    check("without the stream the page falls back to polling",
          studio.wait(lambda: studio.js("return document.getElementById('studio').dataset.live") == "polling", 10))
    poll_id = studio.submit("Đèn lồng trôi trên sông Hoài về đêm")
    check("a job still reaches completed by polling", studio.watch(poll_id, {"completed", "failed"})[-1:] == ["completed"])
    studio.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    studio.open("/studio")
    check("with the stream back the page is live again",
          studio.wait(lambda: studio.js("return document.getElementById('studio').dataset.live") == "live", 10))

    # --- Credits page.
    studio.open("/credits")
    kinds = [cell.text for cell in studio.all(".ledger tbody tr td:nth-child(2)")]
    check("the credits page lists grants, holds, spending and refunds",
          {"Nạp tín dụng", "Tạm giữ", "Đã dùng", "Hoàn lại"} <= set(kinds), str(kinds))
    studio.shot("08-credits")

    # --- API keys: made, shown once, usable, revoked after asking.
    studio.find('.nav a[href="/keys"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/keys"), 5)
    studio.find('.key-form input[name="name"]').send_keys("bot cửa hàng")
    studio.find('.key-form button[type="submit"]').click()
    studio.wait(lambda: studio.all("#new-key"), 5)
    new_key = studio.find("#new-key").get_attribute("value")
    studio.shot("12-keys-new")
    me = urllib.request.Request(studio.base + "/api/v1/me", headers={"Authorization": f"Bearer {new_key}"})
    with urllib.request.urlopen(me, timeout=10) as response:
        check("the keys page makes a key that works at once", new_key.startswith("phim_") and response.status == 200)
    studio.open("/keys")
    check("the list shows the key by its first characters only",
          new_key[:12] in studio.driver.page_source and new_key not in studio.driver.page_source)
    studio.all("a.revoke")[0].click()
    studio.wait(lambda: studio.all("#confirm-revoke"), 5)
    studio.shot("13-keys-confirm")
    studio.find("#confirm-revoke").click()
    studio.wait(lambda: not studio.all("#confirm-revoke"), 5)
    try:
        urllib.request.urlopen(me, timeout=10)
        refused = False
    except urllib.error.HTTPError as error:
        refused = error.code == 401
    check("after asking, revoking shuts the key out at once", refused and "Đã thu hồi" in studio.driver.page_source)

    # --- The operator's provider reconciliation (the demo account is an admin).
    studio.find('.nav a[href="/admin/users"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/admin/users"), 5)
    studio.find('.subnav a[href="/admin/provider"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/admin/provider"), 5)
    studio.find("#run-reconcile").click()
    studio.wait(lambda: studio.all("#report-title"), 15)
    studio.shot("14-admin-provider")
    # The video canceled above was refunded, but Kie has no cancel call: its task runs on.
    check("the admin page reconciles the period with the provider and lists the canceled task still running there",
          "Nhà cung cấp: thành công" in studio.driver.page_source and "Vẫn chạy ở nhà cung cấp" in studio.driver.page_source)

    # --- English.
    studio.open("/studio")
    studio.find('.lang-switch button[value="en"]').click()
    studio.wait(lambda: studio.js("return document.documentElement.lang") == "en", 5)
    check("the language switch turns the studio English",
          studio.text(".submit-label") == "Create video" and studio.text(f"#video-{video_id} .badge") == "Completed")
    check("English numbers use commas", studio.balance()[0].count(",") == 1, str(studio.balance()))
    studio.shot("09-studio-en")
    studio.find('.lang-switch button[value="vi"]').click()
    studio.wait(lambda: studio.js("return document.documentElement.lang") == "vi", 5)

    # --- Phone.
    studio.driver.set_window_size(390, 844)
    studio.open("/studio")
    check("one column on a phone", studio.columns() == 1, str(studio.columns()))
    rect = studio.js("var r = document.getElementById('composer').getBoundingClientRect(); return [r.bottom, r.width, window.innerHeight, window.innerWidth];")
    check("the composer sits at the bottom, within the screen", abs(rect[0] - rect[2]) < 2 and rect[1] <= rect[3], str(rect))
    overflow = studio.js("return document.documentElement.scrollWidth > window.innerWidth;")
    check("nothing overflows sideways on a phone", not overflow)
    studio.shot("10-phone")
    studio.driver.set_window_size(1440, 900)

    # --- A new account: sign up, no credits, a clear error with a way to the credits page.
    studio.find('form.signout button').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/signin"), 5)
    studio.open("/signup")
    studio.find('input[name="email"]').send_keys("moi@phim.test")
    studio.find('input[name="password"]').send_keys("mat-khau-dai")
    studio.find('form[action="/signup"] button[type="submit"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/studio"), 10)
    check("sign up lands in the studio with no credits", studio.balance() == ("0", "0"), str(studio.balance()))
    studio.find("#prompt").send_keys("Phố cổ Hội An dưới mưa")
    studio.find("#submit").click()
    alert = studio.wait(lambda: next(iter(studio.all(".alert-error")), None), 10)
    check("too few credits: a clear error that links to the credits page",
          alert is not None and "Không đủ tín dụng" in alert.text
          and alert.find_element(By.CSS_SELECTOR, "a").get_attribute("href").endswith("/credits"))
    check("and no job was made", len(studio.all(".card")) == 0)
    studio.shot("11-insufficient-credits")

    # --- The operator finds the new account and grants it credits, with a reason.
    studio.find('form.signout button').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/signin"), 5)
    studio.sign_in("demo@phim.local", "phim-demo")
    studio.wait(lambda: studio.driver.current_url.endswith("/studio"), 10)
    studio.find('.nav a[href="/admin/users"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/admin/users"), 5)
    studio.find("#user-search").send_keys("moi@")
    studio.find('form[role="search"] button').click()
    studio.wait(lambda: "q=moi" in studio.driver.current_url, 5)
    rows = studio.all("table.users tbody tr")
    check("searching by email finds just the new account", len(rows) == 1 and "moi@phim.test" in rows[0].text, [row.text for row in rows])
    studio.shot("15-admin-users")
    rows[0].find_element(By.CSS_SELECTOR, "a").click()
    studio.wait(lambda: studio.all("#credits-form"), 5)
    studio.find("#credits-amount").send_keys("20000")
    studio.find("#credits-submit").click()
    check("the browser will not send a grant without a reason", "done=" not in studio.driver.current_url)
    studio.find("#credits-reason").send_keys("Chào mừng khách hàng mới")
    studio.find("#credits-submit").click()
    studio.wait(lambda: "done=granted" in studio.driver.current_url, 5)
    check("the grant shows on the account at once", studio.text("#account-available") == "20.000"
          and "Chào mừng khách hàng mới" in studio.driver.page_source, studio.text("#account-available"))
    studio.shot("16-admin-user-granted")
    studio.find('.subnav a[href="/admin/audit"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/admin/audit"), 5)
    audit_rows = studio.all("table.audit tbody tr")
    check("the audit log names who granted what to whom, before and after",
          bool(audit_rows) and all(text in audit_rows[0].text for text in ("demo@phim.local", "moi@phim.test", "Cộng tín dụng", "Khả dụng: 20.000")),
          audit_rows[0].text if audit_rows else "")
    studio.shot("17-admin-audit")

    # --- Every account's videos, and the price table.
    studio.find('.subnav a[href="/admin/jobs"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/admin/jobs"), 5)
    check("the videos page lists every account's videos with their owner",
          len(studio.all("table.all-jobs tbody tr")) >= 3 and "demo@phim.local" in studio.text("table.all-jobs"))
    studio.shot("18-admin-jobs")
    studio.find('.subnav a[href="/admin/prices"]').click()
    studio.wait(lambda: studio.driver.current_url.endswith("/admin/prices"), 5)
    first = studio.all("table.prices tbody tr")[0]
    amount = first.find_element(By.CSS_SELECTOR, 'input[name="credits"]')
    amount.clear()
    amount.send_keys("8888")
    first.find_element(By.CSS_SELECTOR, "button").click()
    studio.wait(lambda: "changed=" in studio.driver.current_url, 5)
    check("a price change shows at once, with a note that new videos cost it",
          "8.888" in studio.text("table.prices tbody tr") and studio.all(".alert-success"))
    studio.shot("19-admin-prices")

    # --- The operator renames a style; the studio's chip follows at once.
    studio.open("/admin/styles")
    name = studio.find('#style-drone input[name="name_vi"]')
    name.clear()
    name.send_keys("Flycam trên cao")
    save = studio.find('#style-form-drone button')
    studio.js("arguments[0].scrollIntoView({block: 'center'});", save)
    save.click()
    studio.wait(lambda: "saved=1" in studio.driver.current_url, 5)
    studio.shot("24-admin-styles")
    check("a renamed style is saved and logged", studio.find('#style-drone input[name="name_vi"]').get_attribute("value") == "Flycam trên cao")

    # --- Style chips add their words to the prompt, and take them out again.
    studio.open("/studio")
    drone = studio.find('.chip[data-style="drone"]').get_attribute("textContent")
    check("the studio's chip shows the new name", drone == "Flycam trên cao", drone)
    studio.find("#prompt").send_keys("Chợ nổi Cái Răng lúc bình minh")
    chip = studio.find('.chip[data-style="cinematic"]')
    chip.click()
    with_style = studio.find("#prompt").get_attribute("value")
    check("a style chip adds its words to the prompt and shows as on",
          with_style.startswith("Chợ nổi Cái Răng lúc bình minh, ") and chip.get_attribute("data-text") in with_style
          and chip.get_attribute("aria-pressed") == "true", with_style)
    studio.shot("20-style-chips")
    chip.click()
    check("clicking it again takes the words out", studio.find("#prompt").get_attribute("value") == "Chợ nổi Cái Răng lúc bình minh"
          and chip.get_attribute("aria-pressed") == "false", studio.find("#prompt").get_attribute("value"))
    studio.find("#prompt").clear()

    # --- A share link: made from the card, opened by anyone, withdrawn from the card.
    card = studio.all('.card[data-status="completed"]')[0]
    card_id = card.get_attribute("data-id")
    share_button = card.find_element(By.CSS_SELECTOR, '[data-action="share"]')
    studio.js("arguments[0].scrollIntoView({block: 'center'});", share_button)
    share_button.click()
    link = studio.wait(lambda: next(iter(studio.all(f'#video-{card_id} a.share-link')), None), 5)
    share_url = link.get_attribute("href") if link else ""
    check("sharing shows the public link on the card and says so", "/v/" in share_url and share_url in studio.text("#alerts"),
          (share_url, studio.text("#alerts")))
    studio.shot("21-card-shared")
    studio.driver.get(share_url)
    og_video = studio.js('var m = document.querySelector("meta[property=\'og:video\']"); return m && m.content;')
    check("the public page plays the video and carries Open Graph tags",
          studio.find("#shared-video").get_attribute("src") == og_video and og_video and "og:title" in studio.driver.page_source
          and "demo@phim.local" not in studio.driver.page_source, og_video)
    studio.shot("22-shared-page")
    studio.open("/studio")
    unshare = studio.find(f'#video-{card_id} [data-action="unshare"]')
    studio.js("arguments[0].scrollIntoView({block: 'center'});", unshare)
    unshare.click()
    studio.wait(lambda: studio.all(f'#video-{card_id} [data-action="share"]'), 5)
    try:
        urllib.request.urlopen(share_url, timeout=10)
        gone = False
    except urllib.error.HTTPError as error:
        gone = error.code == 404
    check("stopping sharing makes the link a 404 at once", gone)

    # --- Two variants in one submit: two videos, each held on its own.
    before_cards = len(studio.all(".card"))
    Select(studio.find("#variants")).select_by_value("2")
    check("the price shows for both variants", studio.text("#price-amount") == "14.000", studio.text("#price-amount"))
    studio.find("#prompt").send_keys("Hai phiên bản: cánh diều trên đồi cỏ")
    studio.find("#submit").click()
    studio.wait(lambda: len(studio.all(".card")) == before_cards + 2, 10)
    made = [card for card in studio.all(".card") if "cánh diều trên đồi cỏ" in card.get_attribute("data-prompt")]
    check("two variants make two cards", len(made) == 2, len(made))
    studio.shot("23-two-variants")
    Select(studio.find("#variants")).select_by_value("1")

if __name__ == "__main__":
    main()

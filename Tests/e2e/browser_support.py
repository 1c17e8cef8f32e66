"""What the browser suites share: headless Chromium and the page's common gestures (Page), the
dashboard's words, failing a step, running steps one after another with a screenshot after each,
the API outside the browser, and an administrator made with the CLI."""
import json
import os
import secrets
import subprocess
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UI_TIMEOUT = 10  # seconds for the page to react


def load_words(language):
    with open(os.path.join(ROOT, "public", "i18n", language + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


VI = load_words("vi")
EN = load_words("en")


def words(table, key, **params):
    """A word from vi.json or en.json with its {placeholders} filled, numbers grouped as the page groups them."""
    text = table[key]
    separator = "," if table is EN else "."
    for name, value in params.items():
        shown = f"{value:,}".replace(",", separator) if isinstance(value, int) else str(value)
        text = text.replace("{" + name + "}", shown)
    return text


# The page is shown once common.js has put its words in place (html.ready), then fades in; WebDriver
# calls an element under a transparent body hidden, so a page counts as shown when the fade has ended.
PAGE_SHOWN_JS = ("return document.readyState === 'complete' && document.documentElement.classList.contains('ready')"
                 " && getComputedStyle(document.body).opacity === '1'")


class Failed(AssertionError):
    pass


class Skipped(Exception):
    """A step that cannot be checked against this server (said why, counted apart, never as passed)."""


def expect(condition, message):
    if not condition:
        raise Failed(message)


def http(base, method, path, body=None, headers=None, cookies=None):
    """(status, parsed JSON or text, headers) from the API with urllib, outside the browser."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=dict(headers or {}))
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if cookies:
        request.add_header("Cookie", "; ".join(f"{name}={value}" for name, value in cookies.items()))
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, raw, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, answer_headers = error.code, error.read(), error.headers
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text), answer_headers
    except ValueError:
        return status, text, answer_headers


def make_admin(phim, data, base):
    """An administrator made with `phim users create --admin` on the service's data, signed in:
    (email, password, id, cookies), the cookies with the CSRF one."""
    email = f"admin-{secrets.token_hex(4)}@phim.test"
    password = "admin-" + secrets.token_hex(8)
    # The password on standard input, not in the process list.
    done = subprocess.run([phim, "users", "create", "--email", email, "--admin", "--data", data],
                          input=password + "\n", cwd=ROOT, capture_output=True, text=True, timeout=60)
    expect(done.returncode == 0, f"phim users create failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    status, answer, headers = http(base, "POST", "/api/v1/auth/login", {"email": email, "password": password})
    expect(status == 200, f"the new administrator cannot sign in: {status} {answer}")
    cookies = {}
    for header in headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        cookies[name.strip()] = rest.split(";", 1)[0]
    return email, password, answer["id"], cookies


def chrome(extra_flags=()):
    """Debian's headless Chromium at 1280×900, Vietnamese, keeping the console for the checks."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                 "--window-size=1280,900", "--lang=vi-VN", *extra_flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(1280, 900)
    return driver


class Page:
    """Headless Chromium on one Phim, with the gestures every browser suite needs; each suite's
    Browser adds its own pages' helpers."""

    def __init__(self, base, shots, extra_flags=()):
        self.base = base.rstrip("/")
        self.shots = shots
        self.driver = chrome(extra_flags)
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

    def wait(self, condition, seconds=UI_TIMEOUT, message="timed out", poll=0.1):
        """Waits until condition() is truthy and returns it; fails the step with message otherwise."""
        def attempt(_):
            try:
                return condition()
            except WebDriverException:
                return None
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=poll).until(attempt)
        except TimeoutException:
            raise Failed(f"{message} (after {seconds} s)") from None

    def wait_ready(self):
        self.wait(lambda: self.js(PAGE_SHOWN_JS), message="the page never became ready")

    def text(self, css):
        return self.js("var e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;", css)

    def shown(self, css):
        return self.js("var e = document.querySelector(arguments[0]); return !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);", css)

    def call(self, method, path, body=None):
        """Calls the API from the page with its cookie, the CSRF header and the page's language: (status, json)."""
        answer = self.driver.execute_async_script("""
            var done = arguments[arguments.length - 1];
            var csrf = (document.cookie.match(/(?:^|; )(?:__Host-)?phim_csrf=([^;]*)/) || [])[1];
            var init = {method: arguments[0], credentials: 'same-origin', cache: 'no-store',
                        headers: {'Accept': 'application/json', 'Accept-Language': document.documentElement.lang || 'vi'}};
            if (csrf) init.headers['X-CSRF-Token'] = decodeURIComponent(csrf);
            if (arguments[2] !== null) { init.body = JSON.stringify(arguments[2]); init.headers['Content-Type'] = 'application/json'; }
            fetch(arguments[1], init).then(function (r) {
              return r.text().then(function (t) { var j = null; try { j = JSON.parse(t); } catch (e) {} done([r.status, j]); });
            }, function () { done([0, null]); });""", method, path, body)
        return answer[0], answer[1]

    # --- pictures and the console
    def shot(self, name):
        os.makedirs(self.shots, exist_ok=True)
        time.sleep(0.3)  # let the page's fade-in and the confirmations' slide-in finish
        self.driver.save_screenshot(os.path.join(self.shots, name + ".png"))

    def full_shot(self, name):
        """The whole page, however long (the window grows for the picture, then shrinks back)."""
        size = self.driver.get_window_size()
        height = self.js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
        self.driver.set_window_size(size["width"], min(max(height + 140, size["height"]), 4000))
        time.sleep(0.2)
        self.shot(name)
        self.driver.set_window_size(size["width"], size["height"])

    def collect_console(self):
        try:
            self.console += self.driver.get_log("browser")
        except WebDriverException:
            pass

    # --- gestures
    def type_into(self, css, text):
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def send_sign_in(self, email, password):
        """Fills the sign-in form and sends it, whatever the answer (a wrong password stays on /signin)."""
        self.open("/signin")
        self.type_into("#email", email)
        self.type_into("#password", password)
        self.find("#signin-submit").click()

    def sign_in(self, email, password):
        """Signs in and waits for the studio."""
        self.send_sign_in(email, password)
        self.wait(lambda: self.path() == "/", message=f"{email} did not reach the studio ({self.text('#form-error')!r})")
        self.wait_ready()

    def sign_out(self):
        self.find("#signout").click()
        self.wait(lambda: self.path() == "/signin", message="sign out did not lead to /signin")
        self.wait_ready()

    def quit(self):
        self.driver.quit()


def run_steps(browser, steps, state, only=None):
    """Runs (shot, name, step) in order; a failing or crashing step fails alone and the next ones
    still run; a step that raises Skipped is counted apart with its reason. A screenshot and the
    console are taken after every step. Returns (passed, failed, skipped)."""
    passed = failed = skipped = 0
    for shot, name, step in steps:
        if only and not any(shot.startswith(prefix) or shot[3:].startswith(prefix) for prefix in only.split(",")):
            continue
        started = time.time()
        try:
            step(browser, state)
            passed += 1
            print(f"ok   {name} ({time.time() - started:.1f} s)", flush=True)
        except Skipped as reason:
            skipped += 1
            print(f"skip {name}: {reason}", flush=True)
        except Exception as error:
            failed += 1
            detail = str(error) if isinstance(error, Failed) else traceback.format_exc(limit=3).strip().replace("\n", " | ")
            print(f"FAIL {name}: {detail}", flush=True)
        finally:
            try:
                browser.shot(shot)
            except WebDriverException:
                pass
            browser.collect_console()
    return passed, failed, skipped


def summary(passed, failed, skipped):
    """The closing line: 'N passed, N failed' (', N skipped' when some were)."""
    return f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")

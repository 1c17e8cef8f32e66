#!/usr/bin/env python3
"""Buying credits in headless Chromium, through nginx, against a running Phim in demo mode (the demo
bank 970436 / 1234567890 / PHIM DEMO, transfers simulated).

Usage: python3 Tests/e2e/topup_browser_test.py --base-url http://127.0.0.1:PORT --phim PATH --data DIR
                                            [--sepay-key KEY] [--off-base-url URL] [--screenshots DIR]

A person signs up, opens Top up from the header, buys the first package and sees its VietQR and the
copyable bank details; the QR SVG, fetched with the page's session, is rendered by rsvg-convert and
read back by zbarimg: its CRC-16/CCITT-FALSE checks and it names the bank, account, amount and code
the page shows. "Simulate the transfer" turns the page paid and raises the header's balance by
exactly the package's credits within 2 s; a reload still shows it paid; the credits page lists the
order with its receipt and a "top-up" ledger line. At 360 px nothing scrolls sideways. A short
payment, posted here as SePay would (Authorization: Apikey --sepay-key, default $PHIM_SEPAY_API_KEY:
start `phim up` with it set), turns the person's open order page to "under review" by itself; an
operator (made with `phim users create --admin`) resolves it on the payments page by crediting a
stated amount, and the person's balance rises by exactly that. The operator makes a batch of codes
on the codes page, sees them once, and the batch's CSV link downloads them; the analytics page
shows the day's revenue in VND. On a `phim up` with a provider key and no bank (--off-base-url, else one
the suite starts itself, with `phim simulator` as the provider), the top-up page says plainly that
top-ups are off.

Each step prints one line and saves a PNG; "N passed, N failed" (", N skipped") closes the run and
the exit status is non-zero on any failure. Needs chromium, chromium-driver, selenium, rsvg-convert
(librsvg2-bin) and zbarimg (zbar-tools). Elements are found by ids and data-testid, words compared
with public/i18n/*.json, the order and packages with the API.
"""
import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import process_faults as faults  # noqa: E402  (phim up in a temporary data directory)
import vietqr_check as vietqr  # noqa: E402  (the payload's CRC and fields, computed outside Swift)
from browser_support import EN, VI, Failed, Page, Skipped, expect, http, make_admin, run_steps, summary, words  # noqa: E402

PAID_WITHIN = 2.0       # seconds from the notification to "paid" on the page (the promise)
PHONE = (360, 800)


def emv_fields(text):
    fields = vietqr.emv_fields(text)
    expect(fields is not None, f"the payload's TLV does not end where the text ends: {text!r}")
    return fields


class Browser(Page):
    """The top-up pages' gestures on top of the common ones (browser_support.Page)."""

    def query(self):
        return urllib.parse.parse_qs(urllib.parse.urlparse(self.driver.current_url).query)

    def balance(self):
        raw = self.js("var a = document.getElementById('balance-available'); return a ? a.dataset.value : null;")
        return int(raw) if raw not in (None, "") else None

    def cookies(self):
        return {cookie["name"]: cookie["value"] for cookie in self.driver.get_cookies()}

    def no_sideways_scroll(self, where):
        sizes = self.js("return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};")
        expect(sizes["scroll"] <= sizes["inner"], f"{where} scrolls sideways at {PHONE[0]} px: {sizes}")

    # --- the top-up page
    def order_status(self):
        return self.js("var o = document.getElementById('order'); return o && !o.hidden ? o.dataset.status : null;")

    def order_id(self):
        return self.js("var o = document.getElementById('order'); return o && !o.hidden ? o.dataset.id : null;")

    def buy_first_package(self):
        self.wait(lambda: self.shown('[data-testid="package"]'), message="no package is offered")
        package = self.find('[data-testid="package"]')
        chosen = {"id": package.get_attribute("data-id"), "amount_vnd": int(package.get_attribute("data-amount")),
                  "credits": int(package.get_attribute("data-credits"))}
        package.click()
        self.wait(lambda: self.order_status() == "pending", message=f"buying {chosen['id']} showed no pending order "
                  f"({self.text('#packages-error')!r})")
        return chosen


def sepay_notification(base, key, account, amount, content, txn_id=None):
    """Posts a SePay-shaped incoming transfer through nginx: (status, answer)."""
    body = {"id": txn_id or int.from_bytes(secrets.token_bytes(4), "big"), "gateway": "Vietcombank",
            "transactionDate": time.strftime("%Y-%m-%d %H:%M:%S"), "accountNumber": account, "code": None,
            "content": content, "transferType": "in", "transferAmount": amount, "accumulated": 0,
            "subAccount": None, "referenceCode": "FT" + secrets.token_hex(5).upper(), "description": content}
    status, answer, _ = http(base, "POST", "/api/v1/payments/sepay", body, headers={"Authorization": "Apikey " + key})
    return status, answer


# ---------------------------------------------------------------------------------------------- steps

def step_signup(b, state):
    b.open("/signup")
    email = f"topup-{secrets.token_hex(5)}@phim.test"
    password = "mat-khau-" + secrets.token_hex(4)
    b.find("#email").send_keys(email)
    b.find("#password").send_keys(password)
    b.find("#signup-submit").click()
    b.wait(lambda: b.path() == "/", message=f"sign-up did not land in the studio ({b.text('#form-error')!r})")
    b.wait_ready()
    b.wait(lambda: b.balance() == 0, message=f"a new account should show 0 credits, shows {b.balance()}")
    state["email"], state["password"] = email, password


def step_open_topup(b, state):
    if b.path() != "/":
        b.open("/")
    link = b.wait(lambda: b.find('[data-testid="topup-link"]'), message="the header has no top-up link")
    expect(link.text.strip() == VI["header.topup"], f"the header's link reads {link.text!r}, not vi.json's")
    link.click()
    b.wait(lambda: b.path() == "/topup", message="the header's link did not open /topup")
    b.wait_ready()
    status, offer = b.call("GET", "/api/v1/topups/packages")
    expect(status == 200 and offer.get("enabled") is True, f"top-ups are not on in demo mode: {status} {offer}")
    expect(offer.get("simulate_transfer") is True, "demo mode with a SePay key should offer the simulated transfer")
    state["offer"] = offer
    b.wait(lambda: len(b.all('[data-testid="package"]')) == len(offer["data"]),
           message=f"the page shows {len(b.all('[data-testid=package]'))} packages, the API {len(offer['data'])}")
    shown = b.js("""return Array.prototype.map.call(document.querySelectorAll('[data-testid="package"]'), function (p) {
        return {id: p.dataset.id, name: p.querySelector('.package-name').textContent, price: p.querySelector('[data-testid="package-price"]').textContent,
                credits: p.querySelector('[data-testid="package-credits"]').dataset.value}; });""")
    for item, seen in zip(offer["data"], shown):
        expect(seen["id"] == item["id"], f"packages out of the API's order: {seen['id']} where {item['id']} is")
        expect(seen["name"] == item["name_vi"], f"package {item['id']} is named {seen['name']!r}, not {item['name_vi']!r}")
        expect(seen["price"] == words(VI, "topup.vnd", amount=item["amount_vnd"]),
               f"package {item['id']} costs {seen['price']!r} on the page (VND grouped with dots expected)")
        expect(int(seen["credits"]) == item["credits"], f"package {item['id']} gives {seen['credits']} on the page, {item['credits']} in the API")
    b.full_shot("02a-packages")


def step_buy(b, state):
    state["package"] = b.buy_first_package()
    order_id = b.order_id()
    expect(b.query().get("order") == [order_id], f"the address does not name the order: {b.driver.current_url}")
    status, order = b.call("GET", f"/api/v1/topups/{order_id}")
    expect(status == 200, f"GET /topups/{order_id}: {status} {order}")
    state["order"] = order
    expect(order["amount_vnd"] == state["package"]["amount_vnd"] and order["credits"] == state["package"]["credits"],
           f"the order does not carry the package's price and credits: {order}")
    # The QR is an image the browser could load, with words for those who cannot see it.
    b.wait(lambda: b.js("var i = document.getElementById('order-qr'); return i.complete && i.naturalWidth > 0;"),
           message="the QR image did not load")
    qr = b.find('[data-testid="order-qr"]')
    expect(qr.get_attribute("src").endswith(order["qr_svg_url"]), f"the QR image is {qr.get_attribute('src')}, not {order['qr_svg_url']}")
    expect(qr.get_attribute("alt") == VI["topup.qr_alt"], f"the QR's alt text is {qr.get_attribute('alt')!r}")
    shown = {name: b.text(f'[data-testid="pay-{name}"]') for name in ("bank", "account", "account-name", "amount", "code")}
    state["shown"] = shown
    expect(shown["account"] == order["bank"]["account"], f"account {shown['account']!r} vs the order's {order['bank']['account']!r}")
    expect(shown["account-name"] == order["bank"]["account_name"], f"account name {shown['account-name']!r}")
    expect(shown["bank"] == order["bank"]["bank_name"], f"bank {shown['bank']!r} vs {order['bank']['bank_name']!r}")
    expect(shown["amount"] == words(VI, "topup.vnd", amount=order["amount_vnd"]), f"amount shown {shown['amount']!r}")
    expect(shown["code"] == order["code"] and order["code"].startswith("PHIM"), f"code shown {shown['code']!r}, order's {order['code']!r}")
    for name in ("account", "account-name", "amount", "code"):
        expect(b.shown(f'[data-testid="copy-{name}"]'), f"no copy button for {name}")
    # Copying puts the text on the clipboard (the amount as bare digits, as banking apps take it).
    b.driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": b.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    for name, expected in (("code", order["code"]), ("amount", str(order["amount_vnd"]))):
        b.find(f'[data-testid="copy-{name}"]').click()
        copied = b.wait(lambda: b.driver.execute_async_script(
            "var done = arguments[0]; navigator.clipboard.readText().then(done, function () { done(null); });") == expected,
            seconds=3, message=f"copying {name} did not put {expected!r} on the clipboard")
        expect(copied, f"clipboard after copying {name}")
    countdown = b.text('[data-testid="order-countdown"]')
    expect(countdown and (countdown.startswith(VI["topup.countdown"].split("{")[0])), f"no countdown: {countdown!r}")
    # Ten minutes on (the page's clock moved forward), unpaid: it says what to do and gives the code to quote.
    expect(not b.shown('[data-testid="order-late"]'), "the 'what to do' note shows on a fresh order")
    b.js("var real = Date.now; window.__realNow = real; Date.now = function () { return real.call(Date) + 11 * 60 * 1000; };")
    try:
        b.wait(lambda: b.shown('[data-testid="order-late"]'), seconds=3, message="ten minutes unpaid, the page does not say what to do")
        expect(b.text('[data-testid="order-late"]') == words(VI, "topup.late", code=order["code"]),
               f"the note reads {b.text('[data-testid=order-late]')!r}")
        b.full_shot("03b-order-late")
    finally:
        b.js("Date.now = window.__realNow;")
    expect(b.shown('[data-testid="simulate"]') and b.text('[data-testid="simulate"]') == VI["topup.simulate"], "no 'simulate the transfer' button")
    expect(b.shown('[data-testid="order-cancel"]'), "no cancel button on a pending order")
    b.full_shot("03a-order")


def step_qr(b, state):
    order, shown = state["order"], state["shown"]
    cookies = "; ".join(f"{name}={value}" for name, value in b.cookies().items())
    request = urllib.request.Request(b.base + order["qr_svg_url"], headers={"Cookie": cookies})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            svg, kind = response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        raise Failed(f"GET {order['qr_svg_url']} with the page's session: {error.code} {error.read()[:200]!r}") from None
    expect(kind.startswith("image/svg+xml"), f"the QR is served as {kind!r}")
    with tempfile.TemporaryDirectory(prefix="topup-qr-") as work:
        svg_path, png_path = os.path.join(work, "qr.svg"), os.path.join(work, "qr.png")
        with open(svg_path, "wb") as handle:
            handle.write(svg)
        rendered = subprocess.run(["rsvg-convert", "--width", "400", "--background-color", "white", svg_path, "-o", png_path],
                                  capture_output=True, text=True)
        expect(rendered.returncode == 0, f"rsvg-convert: {rendered.stderr}")
        read = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", png_path], capture_output=True, text=True)
    payload = read.stdout.rstrip("\n")
    expect(read.returncode == 0 and payload, f"zbarimg read nothing: {read.stderr}")
    expect(payload[-8:-4] == "6304" and payload[-4:] == vietqr.crc16_ccitt_false(payload[:-4].encode()),
           f"the payload's CRC-16/CCITT-FALSE does not check: {payload}")
    expect(payload == order["vietqr_payload"], f"the QR reads {payload}, the order says {order['vietqr_payload']}")
    fields = emv_fields(payload)
    merchant = emv_fields(fields["38"])
    beneficiary = emv_fields(merchant["01"])
    expect(merchant["00"] == "A000000727" and merchant.get("02") == "QRIBFTTA", f"not a NAPAS transfer QR: {merchant}")
    expect(beneficiary["00"] == order["bank"]["bin"], f"the QR names bank {beneficiary['00']}, the order {order['bank']['bin']}")
    expect(beneficiary["01"] == shown["account"], f"the QR names account {beneficiary['01']}, the page {shown['account']}")
    expect(fields["53"] == "704" and fields["58"] == "VN", f"currency/country: {fields.get('53')} {fields.get('58')}")
    expect(int(fields["54"]) == order["amount_vnd"] and words(VI, "topup.vnd", amount=int(fields["54"])) == shown["amount"],
           f"the QR asks for {fields['54']}, the page shows {shown['amount']}")
    expect(emv_fields(fields["62"])["08"] == shown["code"], f"the QR's transfer content is {fields['62']}, the page's code {shown['code']}")


def step_simulate(b, state):
    before = b.balance()
    credits = state["order"]["credits"]
    started = time.time()
    b.find('[data-testid="simulate"]').click()
    b.wait(lambda: b.order_status() == "paid" and b.balance() == before + credits, seconds=PAID_WITHIN, poll=0.05,
           message=f"not paid with +{credits} within {PAID_WITHIN} s (status {b.order_status()}, balance {before} → {b.balance()})")
    took = time.time() - started
    expect(b.text('[data-testid="order-state-title"]') == words(VI, "topup.state.paid.title", credits=credits),
           f"the paid page reads {b.text('[data-testid=order-state-title]')!r}")
    expect(not b.shown('[data-testid="simulate"]') and not b.shown('[data-testid="pay-box"]'), "a paid order still offers paying")
    time.sleep(1.5)  # a second look: the polling must not credit anything more
    expect(b.balance() == before + credits, f"the balance moved again after paid: {b.balance()} (expected {before + credits})")
    state["paid_balance"] = b.balance()
    print(f"     paid and credited {took:.2f} s after the click")
    b.full_shot("04a-paid")


def step_reload(b, state):
    b.driver.refresh()
    b.wait_ready()
    b.wait(lambda: b.order_status() == "paid", message=f"after a reload the order shows {b.order_status()}")
    expect(b.order_id() == state["order"]["id"], "the reload restored another order")
    expect(b.shown('[data-testid="order-receipt"]'), "the paid order shows no receipt after a reload")
    expect(b.balance() == state["paid_balance"], f"the balance after reload is {b.balance()}")


def step_credits(b, state):
    b.open("/credits")
    code = state["order"]["code"]
    row = f'[data-testid="order-row"][data-code="{code}"]'
    b.wait(lambda: b.shown(row), message=f"the credits page does not list order {code}")
    expect(b.js(f"return document.querySelector('{row}').dataset.status") == "paid", "the order is not paid on the credits page")
    expect(b.text(f'{row} [data-testid="order-status"]') == VI["topup.status.paid"], f"status reads {b.text(row + ' [data-testid=order-status]')!r}")
    expect(b.text(f'{row} [data-testid="order-amount"]') == words(VI, "topup.vnd", amount=state["order"]["amount_vnd"]), "the order's amount")
    status, order = b.call("GET", f"/api/v1/topups/{state['order']['id']}")
    reference = (order.get("receipt") or {}).get("reference")
    if reference:
        expect(b.text(f'{row} [data-testid="order-reference"]') == reference, "the receipt's bank reference is not shown")
    topup_rows = b.js("return Array.prototype.map.call(document.querySelectorAll('[data-testid=\"ledger-row\"][data-kind=\"topup\"] .kind-badge'), function (e) { return e.textContent; });")
    expect(topup_rows and all(text == VI["ledger.kind.topup"] for text in topup_rows), f"no labelled top-up ledger line: {topup_rows}")
    expect(b.shown('[data-testid="credits-topup"]'), "the credits page has no Top up button")
    b.full_shot("05a-credits")


def step_phone(b, state):
    b.driver.set_window_size(*PHONE)
    try:
        for path, name in ((f"/topup?order={state['order']['id']}", "06a-phone-paid"), ("/credits", "06b-phone-credits"), ("/topup", "06c-phone-packages")):
            b.open(path)
            time.sleep(0.5)
            b.no_sideways_scroll(path)
            b.full_shot(name)
        b.buy_first_package()
        state["review_order_id"] = b.order_id()
        time.sleep(0.4)
        b.no_sideways_scroll("a pending order")
        expect(b.shown('[data-testid="order-qr"]') and b.shown('[data-testid="copy-code"]'), "the QR or the copy buttons are hidden on a phone")
        b.full_shot("06d-phone-order")
    finally:
        b.driver.set_window_size(1280, 900)


def step_review(b, state):
    key = state["sepay_key"]
    if not key:
        raise Skipped("no SePay key (--sepay-key or PHIM_SEPAY_API_KEY)")
    order_id = state["review_order_id"]
    b.open(f"/topup?order={order_id}")
    b.wait(lambda: b.order_status() == "pending", message="the second order is not pending")
    status, order = b.call("GET", f"/api/v1/topups/{order_id}")
    short = order["amount_vnd"] // 2  # any package price (10,000 VND at least) leaves a short payment
    state["review_order"] = order
    # A wrong key is refused and changes nothing.
    refused, _ = sepay_notification(b.base, key + "x", order["bank"]["account"], order["amount_vnd"], order["code"] + " chuyen tien")
    expect(refused == 401, f"a notification with a wrong key answered {refused}")
    time.sleep(1.2)
    expect(b.order_status() == "pending", "a refused notification changed the order")
    sent = time.time()
    status, answer = sepay_notification(b.base, key, order["bank"]["account"], short, order["code"].lower() + " chuyen tien")
    expect(status == 200 and answer == {"success": True}, f"SePay's notification answered {status} {answer}")
    b.wait(lambda: b.order_status() == "review", seconds=PAID_WITHIN, poll=0.05,
           message=f"the open order page did not turn 'under review' within {PAID_WITHIN} s (shows {b.order_status()})")
    print(f"     the page showed the review {time.time() - sent:.2f} s after the notification")
    expect(b.text('[data-testid="order-state-title"]') == VI["topup.state.review.title"], "the review is not explained")
    late = b.text('[data-testid="order-late"]')
    expect(late and order["code"] in late, f"the review page does not give the code to quote: {late!r}")
    state["short"] = short
    state["before_review"] = b.balance()
    b.full_shot("07a-review-person")


def step_cancel(b, state):
    b.open("/topup")
    b.buy_first_package()
    code = b.text('[data-testid="pay-code"]')
    b.find('[data-testid="order-cancel"]').click()
    b.wait(lambda: b.shown('[data-testid="cancel-confirm"]'), message="cancel does not ask first")
    b.find('[data-testid="cancel-yes"]').click()
    b.wait(lambda: b.order_status() == "canceled", message=f"the order did not turn canceled (shows {b.order_status()})")
    expect(b.text('[data-testid="order-state-text"]') == words(VI, "topup.state.canceled.text", code=code),
           f"the canceled order reads {b.text('[data-testid=order-state-text]')!r}")
    expect(not b.shown('[data-testid="pay-box"]') and not b.shown('[data-testid="simulate"]'), "a canceled order still invites paying")
    b.full_shot("07b-canceled")
    b.find('[data-testid="order-new"]').click()
    b.wait(lambda: b.shown('[data-testid="package"]') and not b.query().get("order"), message="'new top-up' does not go back to the packages")


def step_resolve(b, state):
    if "short" not in state:
        raise Skipped("no review item (the review step did not run)")
    b.sign_out()
    email, password, _, _ = make_admin(state["phim"], state["data"], b.base)
    state["admin"] = (email, password)
    b.sign_in(email, password)
    b.open("/admin/payments")
    code = state["review_order"]["code"]
    item_css = '[data-testid="review-item"][data-status="open"]'
    item = b.wait(lambda: next((node for node in b.all(item_css) if code in node.text), None),
                  message=f"the review queue does not show the short payment for {code}")
    expect(item.get_attribute("data-reason") == "short_payment", f"the item's reason is {item.get_attribute('data-reason')}")
    b.full_shot("08a-review-queue")
    credit = state["short"]  # the operator credits what arrived, in credits one for one
    item.find_element(By.CSS_SELECTOR, '[data-testid="resolve-action-credit"]').find_element(By.XPATH, "..").click()
    email_field = item.find_element(By.CSS_SELECTOR, '[data-testid="resolve-email"]')
    expect(email_field.get_attribute("value") == state["email"], f"the form is not filled with the order's account: {email_field.get_attribute('value')!r}")
    item.find_element(By.CSS_SELECTOR, '[data-testid="resolve-credits"]').send_keys(str(credit))
    item.find_element(By.CSS_SELECTOR, '[data-testid="resolve-reason"]').send_keys("e2e: short payment, credit what arrived")
    review_id = item.get_attribute("data-id")
    item.find_element(By.CSS_SELECTOR, '[data-testid="resolve-submit"]').click()
    b.wait(lambda: not b.all(f'{item_css}[data-id="{review_id}"]'), message="the resolved item stayed in the open queue "
           f"({b.text('[data-testid=resolve-error]')!r})")
    b.find('[data-testid="reviews-all"]').find_element(By.XPATH, "..").click()
    b.wait(lambda: b.all(f'[data-testid="review-item"][data-id="{review_id}"][data-status="credited"]'),
           message="the resolved item is not listed as credited among all")
    b.full_shot("08b-review-resolved")
    b.sign_out()
    b.sign_in(state["email"], state["password"])
    b.wait(lambda: b.balance() is not None, message="no balance")
    expect(b.balance() == state["before_review"] + credit,
           f"the person's balance is {b.balance()}, expected {state['before_review']} + {credit}")


def step_codes(b, state):
    if "admin" not in state:
        email, password, _, _ = make_admin(state["phim"], state["data"], b.base)
        state["admin"] = (email, password)
    if b.text("#user-email") != state["admin"][0]:
        if b.shown("#signout"):
            b.sign_out()
        b.sign_in(*state["admin"])
    b.open("/admin/codes")
    label = "e2e-" + secrets.token_hex(3)
    b.type_into('[data-testid="batch-credits"]', "5000")
    b.type_into('[data-testid="batch-count"]', "3")
    b.type_into('[data-testid="batch-label"]', label)
    b.type_into('[data-testid="batch-reason"]', "e2e: a batch from the admin page")
    b.find('[data-testid="batch-submit"]').click()
    b.wait(lambda: b.shown('[data-testid="new-codes"]'), message=f"no new codes shown ({b.text('[data-testid=batch-error]')!r})")
    made = [line for line in b.text('[data-testid="new-codes-list"]').split("\n") if line.strip()]
    expect(len(made) == 3, f"{len(made)} codes shown, 3 made")
    href = b.find('[data-testid="new-codes-csv"]').get_attribute("href")
    expect("batch=" in href, f"the CSV link does not name the batch: {href}")
    cookies = "; ".join(f"{name}={value}" for name, value in b.cookies().items())
    with urllib.request.urlopen(urllib.request.Request(href, headers={"Cookie": cookies}), timeout=10) as response:
        csv_text = response.read().decode("utf-8")
        kind = response.headers.get("Content-Type", "")
    expect(kind.startswith("text/csv"), f"the CSV link answers {kind!r}")
    lines = [line for line in csv_text.splitlines() if line.strip()]
    expect(lines[0].startswith("code,credits"), f"the CSV's header is {lines[0]!r}")
    expect(len(lines) == 4 and all(any(line.startswith(code + ",") for line in lines[1:]) for code in made),
           f"the CSV does not hold exactly the batch's codes: {lines}")
    b.wait(lambda: len([row for row in b.all('[data-testid="code-row"]') if row.text and label in row.text]) == 3,
           message="the list does not show the batch's 3 codes")
    b.full_shot("09a-codes")
    # Disabling one asks for a reason, then the list says so.
    target = made[0]
    row = next(row for row in b.all('[data-testid="code-row"]') if target in row.text)
    row.find_element(By.CSS_SELECTOR, '[data-action="disable"]').click()
    b.wait(lambda: b.shown('[data-testid="reason-input"]'), message="disabling a code asks for no reason")
    b.find('[data-testid="reason-input"]').send_keys("e2e: disabled from the admin page")
    b.find('[data-testid="reason-confirm"] [data-action="confirm"]').click()
    b.wait(lambda: next((r.find_element(By.CSS_SELECTOR, '[data-testid="code-state"]').text for r in b.all('[data-testid="code-row"]')
                         if target in r.text), None) == VI["admin.codes.state.disabled"],
           message=f"code {target} is not shown disabled ({b.text('[data-testid=reason-error]')!r})")


def step_packages(b, state):
    if "admin" not in state:
        raise Skipped("no operator (the codes step did not run)")
    b.open("/admin/packages")
    status, listed = b.call("GET", "/api/v1/admin/packages")
    expect(status == 200, f"GET /admin/packages: {status} {listed}")
    b.wait(lambda: len(b.all('[data-testid="package-row"]')) == len(listed["data"]),
           message=f"the page lists {len(b.all('[data-testid=package-row]'))} packages, the API {len(listed['data'])}")
    package_id = "e2e-" + secrets.token_hex(3)
    for field, value in (("id", package_id), ("name-vi", "Gói thử"), ("name-en", "Trial"), ("price", "20.000"),
                         ("credits", "21000"), ("order", "90"), ("reason", "e2e: a package from the admin page")):
        b.type_into(f'[data-testid="package-{field}"]', value)
    b.find('[data-testid="package-submit"]').click()
    row = f'[data-testid="package-row"][data-id="{package_id}"]'
    b.wait(lambda: b.shown(row), message=f"the new package is not listed ({b.text('[data-testid=package-error]')!r})")
    status, offer = b.call("GET", "/api/v1/topups/packages")
    made = next((item for item in offer.get("data", []) if item["id"] == package_id), None)
    expect(made and made["amount_vnd"] == 20000 and made["credits"] == 21000 and made["name_vi"] == "Gói thử",
           f"the new package is not offered as made: {made}")
    b.full_shot("09c-packages-made")
    b.find(f'{row} [data-action="disable"]').click()
    b.wait(lambda: b.shown('[data-testid="reason-input"]'), message="disabling a package asks for no reason")
    b.find('[data-testid="reason-input"]').send_keys("e2e: withdrawn")
    b.find('[data-testid="reason-confirm"] [data-action="confirm"]').click()
    b.wait(lambda: not b.all(f'{row} [data-action="disable"]'), message="the package still offers 'disable'")
    status, offer = b.call("GET", "/api/v1/topups/packages")
    expect(all(item["id"] != package_id for item in offer.get("data", [])), "a disabled package is still offered to people")


def step_analytics(b, state):
    b.open("/admin/analytics")
    b.wait(lambda: b.shown('[data-testid="total-revenue"]'), message="no revenue on the analytics page")
    status, report = b.call("GET", "/api/v1/admin/analytics?days=30")
    expect(status == 200 and isinstance(report.get("revenue"), list), f"the analytics JSON has no revenue list: {status}")
    total = sum(int(day.get("amount_vnd") or 0) for day in report["revenue"])
    expect(total >= state["order"]["amount_vnd"], f"revenue {total} VND is below this run's paid order")
    shown = b.text('[data-testid="total-revenue"]')
    expect(shown == words(VI, "topup.vnd", amount=total), f"the page shows revenue {shown!r}, the API {total}")
    expect(b.all('[data-testid="revenue-row"]'), "no revenue-per-day rows")
    b.full_shot("10a-analytics")


def step_off(b, state):
    off = state.get("off_base")
    if not off:
        raise Skipped("no --off-base-url (a phim up without a bank)")
    other = Browser(off, b.shots)
    try:
        other.open("/signup")
        other.find("#email").send_keys(f"off-{secrets.token_hex(4)}@phim.test")
        other.find("#password").send_keys("mat-khau-" + secrets.token_hex(4))
        other.find("#signup-submit").click()
        other.wait(lambda: other.path() == "/", message=f"cannot sign up on the bankless server ({other.text('#form-error')!r})")
        other.open("/topup")
        other.wait(lambda: other.shown('[data-testid="topup-off"]'), message="the top-up page does not say top-ups are off")
        expect(other.text("#topup-off-text") == VI["topup.off.bank"], f"the page says {other.text('#topup-off-text')!r}")
        expect(not other.shown('[data-testid="package"]'), "packages are offered while top-ups are off")
        other.full_shot("11a-off")
    finally:
        other.collect_console()
        b.console += other.console
        other.quit()


def step_english(b, state):
    if "order" not in state:
        raise Skipped("no paid order (the buy step did not run)")
    if b.text("#user-email") != state["email"]:
        if b.shown("#signout"):
            b.sign_out()
        b.sign_in(state["email"], state["password"])
    order = state["order"]
    b.open(f"/topup?order={order['id']}")
    b.wait(lambda: b.order_status() == "paid", message="the paid order is not shown")
    b.find('[data-testid="lang-en"]').click()
    try:
        b.wait(lambda: b.text('[data-testid="order-state-title"]') == words(EN, "topup.state.paid.title", credits=order["credits"]),
               message=f"in English the paid order reads {b.text('[data-testid=order-state-title]')!r}")
        expect(b.text("#receipt-amount") == words(EN, "topup.vnd", amount=order["amount_vnd"]),
               f"in English the amount reads {b.text('#receipt-amount')!r} (50,000 VND expected)")
        expect(b.text('[data-testid="topup-link"]') == EN["header.topup"], "the header's link is not English")
        b.full_shot("11c-english-paid")
    finally:
        b.find('[data-testid="lang-vi"]').click()


def step_console(b, state):
    b.collect_console()
    errors = [entry["message"] for entry in b.console if entry.get("level") == "SEVERE"
              and "/api/v1/me - " not in entry["message"]]
    expect(not errors, "console errors: " + json.dumps(errors)[:1200])


STEPS = [
    ("01-signup", "a person signs up (0 credits)", step_signup),
    ("02-open", "Top up from the header lists the packages as the API does, prices in dong grouped 50.000 ₫", step_open_topup),
    ("03-buy", "buying a package shows the order: its QR image (with alt text), bank, account, name, amount and code, each copyable; a countdown; the address names the order", step_buy),
    ("03b-qr", "the QR SVG, fetched with the page's session and read by zbarimg, is a NAPAS VietQR whose CRC checks and that names the bank, account, amount and code shown", step_qr),
    ("04-simulate", "'simulate the transfer' turns the page paid and the header's balance rises by exactly the package's credits within 2 s, and no more", step_simulate),
    ("04b-reload", "a reload shows the order paid, with its receipt", step_reload),
    ("05-credits", "the credits page lists the paid order with its receipt, and the ledger's top-up line is labelled", step_credits),
    ("06-phone", "at 360 px the top-up and credits pages do not scroll sideways; a second order is placed on the phone", step_phone),
    ("07-review", "a wrong SePay key changes nothing; a short payment turns the open order page 'under review' by itself within 2 s, with the code to quote", step_review),
    ("07b-cancel", "cancel asks first, then the order says not to pay it and quotes its code; 'new top-up' goes back to the packages", step_cancel),
    ("08-resolve", "an operator credits the short payment from the payments page; the person's balance rises by exactly that", step_resolve),
    ("09-codes", "the operator makes a batch of 3 codes, sees them once, and the batch's CSV link downloads exactly them", step_codes),
    ("09b-packages", "the operator creates a package with a reason (offered to people at once) and disables it (offered no more)", step_packages),
    ("10-analytics", "the analytics page shows the revenue in VND as the API counts it, per day", step_analytics),
    ("11-off", "without a bank, the top-up page says plainly that top-ups are off", step_off),
    ("11b-english", "the language switch turns the paid order English (50,000 VND, 'Paid, N credits added')", step_english),
    ("12-console", "no errors in the browser console (CSP included)", step_console),
]


class Bankless:
    """A `phim up` as an operator runs it before setting up the bank: a provider key (pointing at
    `phim simulator`) and no PHIM_BANK_*, so top-ups are off."""

    def __init__(self, phim):
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.simulator_port = faults.free_port()
        self.simulator = None
        args = argparse.Namespace(phim=phim, repo=repo)
        url = f"http://127.0.0.1:{self.simulator_port}"
        self.phim = faults.Phim(args, "bankless", workers=1, extra_env={
            "KIE_API_KEY": "bankless-test-key", "KIE_BASE_URL": url, "KIE_UPLOAD_BASE_URL": url,
            "PHIM_BANK_BIN": "", "PHIM_BANK_ACCOUNT": "", "PHIM_BANK_ACCOUNT_NAME": ""})

    def start(self):
        self.simulator = subprocess.Popen([self.phim.args.phim, "simulator", "--port", str(self.simulator_port)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.phim.start()
        return f"http://127.0.0.1:{self.phim.port}"

    def stop(self):
        self.phim.stop()
        if self.simulator:
            self.simulator.terminate()
            self.simulator.wait(10)
        for path in faults.TEMPORARY:
            shutil.rmtree(path, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description="Phim top-up browser test")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--phim", required=True, help="the phim binary of the running service (makes the operator)")
    parser.add_argument("--data", required=True, help="the running service's data directory")
    parser.add_argument("--sepay-key", default=os.environ.get("PHIM_SEPAY_API_KEY", ""))
    parser.add_argument("--off-base-url", help="a phim up with a provider key and no bank (top-ups off); without it the suite starts one")
    parser.add_argument("--screenshots", default="/tmp/payui-shots")
    parser.add_argument("--only", help="comma-separated step prefixes to run (for debugging)")
    options = parser.parse_args()
    bankless = None if options.off_base_url else Bankless(os.path.abspath(options.phim))
    browser = Browser(options.base_url, options.screenshots)
    state = {"phim": os.path.abspath(options.phim), "data": os.path.abspath(options.data), "sepay_key": options.sepay_key,
             "off_base": options.off_base_url or bankless.start()}
    try:
        passed, failed, skipped = run_steps(browser, STEPS, state, options.only)
    finally:
        browser.quit()
        if bankless:
            bankless.stop()
    print(f"screenshots: {options.screenshots}")
    print(summary(passed, failed, skipped))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

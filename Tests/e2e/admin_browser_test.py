#!/usr/bin/env python3
"""Drives the operators' pages (public/admin/) in headless Chromium against a running Phim in demo mode.

Usage: python3 Tests/e2e/admin_browser_test.py --base-url http://127.0.0.1:PORT --phim PATH_TO_PHIM
                                               --data DATA_DIR [--screenshots DIR] [--paused-model ID]

Makes its own administrator with `phim users create --admin` (a random email) on the same data
directory as the running service, and uses the demo account (demo@phim.local) as the customer: it
grants it 5,000 credits and deducts 2,000, disables and enables it, changes one price of the model
catalog and sets it back, switches a model off and on again and tries to switch off the default one,
makes another model the default and restores it, makes two videos of its own (one #slow, one #fail)
for the videos page, and edits, switches off and restores one style preset. On the Queue page it
sets the running cap to 1 (with a reason), makes three videos of the demo account wait, tries a limit
over the maximum, and puts the limits back. With --paused-model
(a catalog model whose provider id the service's simulator refuses: phim up with
PHIM_SIMULATOR_PAUSED_MODELS), it also checks that the studio greys that model with the provider's
reason and that "try again now" on the Models page clears it; without it that step is skipped.
Each step prints one line and saves a PNG; the run ends with "N passed, N failed" (", N skipped")
and exits non-zero on any failure. Elements are found by ids and data-testid, never by wording;
words are compared with the values in public/i18n/*.json. Needs Debian's chromium and
chromium-driver and PyPI's selenium.
"""
import argparse
import datetime
import json
import os
import secrets
import sys
import tempfile
import time
import urllib.parse

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_support import EN, VI, Page, Skipped, expect, http, make_admin, run_steps, summary, words  # noqa: E402

DEMO_EMAIL = "demo@phim.local"
DEMO_PASSWORD = "phim-demo"
CSV_HEADER = "entry_id,created_at,user_id,email,kind,available_delta,held_delta,video_id,reason"
# The model the steps switch off and on again, and the one they make the default for a moment.
SWITCHED = "kling-3.0"
OTHER_DEFAULT = "grok-imagine"


class Browser(Page):
    """The operators' pages' gestures on top of the common ones (browser_support.Page)."""

    def click(self, css):
        """Clicks an element after scrolling it to the middle, clear of the sticky header."""
        element = self.find(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def value(self, css):
        """A number kept raw in data-value (as common.js's setNumber leaves it)."""
        raw = self.js("var e = document.querySelector(arguments[0]); return e ? e.dataset.value : null;", css)
        if raw in (None, ""):
            return None
        return int(raw) if float(raw).is_integer() else float(raw)


def login_status(base, email, password):
    status, answer, _ = http(base, "POST", "/api/v1/auth/login", {"email": email, "password": password})
    code = answer.get("error", {}).get("code") if isinstance(answer, dict) else None
    return status, code


def expect_not_found(b, where):
    b.wait(lambda: b.shown('[data-testid="not-found"]'), message=f"{where}: no 'not found' message")
    expect(b.text('[data-testid="not-found"] h1') == VI["notfound.heading"],
           f"{where}: the message reads {b.text('[data-testid=not-found] h1')!r}, not vi.json's")
    leaked = b.js("return document.querySelectorAll('#admin, .admin-tabs, form, table').length")
    expect(leaked == 0, f"{where}: {leaked} admin elements are still in the page")


# ---------------------------------------------------------------------------------------------- steps

def step_customer(b, state):
    b.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    b.wait(lambda: b.all("#nav a"), message="the studio has no nav")
    expect(not b.all('#nav a[data-page="admin"]'), "the demo account sees an Admin link")
    for path in ("/admin/", "/admin/user?id=" + state["admin_id"], "/admin/models", "/admin/audit", "/admin/videos", "/admin/provider", "/admin/styles", "/admin/analytics"):
        b.open(path)
        expect_not_found(b, f"{path} for the demo account")
    status, _ = b.call("GET", "/api/v1/admin/users")
    expect(status == 404, f"the admin API answered the demo account {status}")
    expect(b.js("return document.title").startswith(VI["page.not_found"]), f"the title is {b.js('return document.title')!r}")


def step_signed_out(b, state):
    b.open("/")
    b.sign_out()
    b.open("/admin/audit")
    expect(b.path() == "/admin/audit", f"a signed-out visit to /admin/audit went to {b.path()}")
    expect_not_found(b, "/admin/audit signed out")


def step_admin_link(b, state):
    b.sign_in(state["admin_email"], state["admin_password"])
    link = b.wait(lambda: next((a for a in b.all('#nav a[data-page="admin"]') if a.is_displayed()), None),
                  message="the administrator sees no Admin link")
    expect(b.text('#nav a[data-page="admin"]') == VI["nav.admin"], f"the Admin link reads {b.text('#nav a[data-page=admin]')!r}")
    link.click()
    b.wait(lambda: b.path() == "/admin/", message=f"the Admin link led to {b.path()}")
    b.wait_ready()
    b.wait(lambda: b.all('[data-testid="user-row"]'), message="the accounts list is empty")
    expect(b.text('#nav a[aria-current="page"]') == VI["nav.admin"], "the Admin nav entry is not marked current")
    expect(b.text('.admin-tabs a[aria-current="page"]') == VI["admin.tab.accounts"], "the Accounts tab is not marked")
    emails = b.js("return Array.prototype.map.call(document.querySelectorAll('[data-testid=user-link]'), function (a) { return a.textContent; });")
    expect(state["admin_email"] in emails and DEMO_EMAIL in emails, f"the list lacks the admin or the demo account: {emails}")
    admin_row = b.js("""var rows = document.querySelectorAll('[data-testid=user-row]');
        for (var i = 0; i < rows.length; i++) if (rows[i].querySelector('[data-testid=user-link]').textContent === arguments[0])
          return !!rows[i].querySelector('[data-testid=mark-admin]');
        return null;""", state["admin_email"])
    expect(admin_row is True, "the administrator's row has no admin mark")
    b.full_shot("03-admin-accounts")


def step_search(b, state):
    b.type_into("#search", "demo@phim")
    b.find("#search-submit").click()
    b.wait(lambda: [r.get_attribute("data-id") for r in b.all('[data-testid="user-row"]')] == [state["demo_id"]],
           message="searching 'demo@phim' did not list just the demo account")
    expect("q=demo%40phim" in b.driver.current_url or "q=demo@phim" in b.driver.current_url, "the search is not kept in the URL")
    b.type_into("#search", "nobody-" + secrets.token_hex(3))
    b.wait(lambda: b.shown('[data-testid="users-empty"]'), message="a search with no match shows no empty message")
    b.type_into("#search", "DEMO@")
    b.find("#search-submit").click()
    link = b.wait(lambda: next((a for a in b.all('[data-testid="user-link"]') if a.text == DEMO_EMAIL), None),
                  message="an upper-case search did not find the demo account")
    b.shot("04a-search")
    link.click()
    b.wait(lambda: b.path() == "/admin/user", message=f"the account link led to {b.path()}")
    b.wait_ready()
    b.wait(lambda: b.text('[data-testid="account-email"]') == DEMO_EMAIL, message="the account page does not name the account")
    state["credits"] = b.wait(lambda: b.value('[data-testid="account-credits"]'), message="no balance on the account page")
    me = http(b.base, "GET", f"/api/v1/admin/users/{state['demo_id']}", cookies=state["admin_cookies"])[1]
    expect(state["credits"] == me["account"]["credits"], f"the page shows {state['credits']}, the API {me['account']['credits']}")


def step_reason_required(b, state):
    b.find('[data-testid="action-grant"]').find_element(By.XPATH, "..").click()
    b.type_into('[data-testid="credits-amount"]', "5000")
    b.find('[data-testid="credits-reason"]').clear()
    b.find('[data-testid="credits-submit"]').click()
    b.wait(lambda: b.shown('[data-testid="credits-error"]'), message="no reason, yet no error")
    expect(b.text('[data-testid="credits-error"]') == VI["admin.reason_required"], f"the error reads {b.text('[data-testid=credits-error]')!r}")
    expect(not b.shown('[data-testid="confirm"]'), "it asked for confirmation without a reason")
    b.shot("05-reason-required")
    # The API refuses too, with its own message.
    status, answer = b.call("POST", f"/api/v1/admin/users/{state['demo_id']}/credits", {"action": "grant", "amount": 5000, "reason": "  "})
    expect(status == 422 and answer["error"]["code"] == "reason_required", f"the API answered {status} {answer}")
    expect(b.value('[data-testid="account-credits"]') == state["credits"], "the balance moved without a reason")


def confirm_step(b, shot):
    b.wait(lambda: b.shown('[data-testid="confirm"]'), message="it did not ask for confirmation")
    b.shot(shot)
    b.find('[data-testid="confirm"] [data-action="confirm"]').click()
    b.wait(lambda: not b.shown('[data-testid="confirm"]'), message="the confirmation stayed open")


def step_grant(b, state):
    reason = "e2e grant " + secrets.token_hex(3)
    state["grant_reason"] = reason
    b.type_into('[data-testid="credits-amount"]', "5.000")
    b.type_into('[data-testid="credits-reason"]', reason)
    b.find('[data-testid="credits-submit"]').click()
    b.wait(lambda: b.shown('[data-testid="confirm"]'), message="grant did not ask for confirmation")
    question = b.text('[data-testid="confirm"] .confirm-title')
    expect("5.000" in question and DEMO_EMAIL in question, f"the confirmation reads {question!r}")
    # Going back changes nothing; asking again, then confirming, grants.
    b.find('[data-testid="confirm"] [data-action="back"]').click()
    expect(not b.shown('[data-testid="confirm"]') and b.find('[data-testid="credits-amount"]').is_enabled(), "back did not reopen the form")
    b.find('[data-testid="credits-submit"]').click()
    confirm_step(b, "06a-grant-confirm")
    after = state["credits"] + 5000
    b.wait(lambda: b.value('[data-testid="account-credits"]') == after,
           message=f"the balance did not become {after} (shows {b.value('[data-testid=account-credits]')})")
    first = b.wait(lambda: b.js("var r = document.querySelector('#ledger-rows tr'); return r && r.dataset.kind === 'grant' ? r.textContent : null;"),
                   message="the ledger's newest entry is not the grant")
    expect(reason in first, "the grant's ledger entry lacks the reason")
    audit = b.text('#audit-rows tr[data-action="credits.grant"]')
    expect(audit and reason in audit and state["admin_email"] in audit, f"the account's audit lacks the grant: {audit!r}")
    expect(b.find('[data-testid="credits-amount"]').get_attribute("value") == "", "the form was not cleared after granting")
    b.shot("06b-granted")
    state["credits"] = after


def step_deduct(b, state):
    b.find('[data-testid="action-deduct"]').find_element(By.XPATH, "..").click()
    b.type_into('[data-testid="credits-amount"]', str(state["credits"] + 1))
    b.type_into('[data-testid="credits-reason"]', "too much")
    b.find('[data-testid="credits-submit"]').click()
    b.wait(lambda: b.shown('[data-testid="credits-error"]'), message="deducting more than the balance shows no error")
    status, answer = b.call("POST", f"/api/v1/admin/users/{state['demo_id']}/credits",
                            {"action": "deduct", "amount": state["credits"] + 1, "reason": "too much"})
    expect(status == 402 and answer["error"]["code"] == "insufficient_credits", f"the API answered {status} {answer}")
    reason = "e2e deduct " + secrets.token_hex(3)
    state["deduct_reason"] = reason
    b.type_into('[data-testid="credits-amount"]', "2000")
    b.type_into('[data-testid="credits-reason"]', reason)
    b.find('[data-testid="credits-submit"]').click()
    confirm_step(b, "07a-deduct-confirm")
    after = state["credits"] - 2000
    b.wait(lambda: b.value('[data-testid="account-credits"]') == after, message=f"the balance did not become {after}")
    b.wait(lambda: b.js("var r = document.querySelector('#ledger-rows tr'); return r && r.dataset.kind === 'deduct';"),
           message="the ledger's newest entry is not the deduction")
    state["credits"] = after


def step_disable(b, state):
    expect(b.find('[data-testid="access-state"]').get_attribute("data-state") == "active", "the account does not show as active")
    b.find('[data-testid="access-reason"]').clear()
    b.find('[data-testid="access-submit"]').click()
    b.wait(lambda: b.text('[data-testid="access-error"]') == VI["admin.reason_required"], message="disable without a reason shows no error")
    reason = "e2e disable " + secrets.token_hex(3)
    b.type_into('[data-testid="access-reason"]', reason)
    b.find('[data-testid="access-submit"]').click()
    confirm_step(b, "08a-disable-confirm")
    b.wait(lambda: b.find('[data-testid="access-state"]').get_attribute("data-state") == "disabled", message="the account did not show as disabled")
    expect(b.all('#account-marks [data-testid="mark-disabled"]'), "no 'disabled' mark next to the email")
    status, code = login_status(b.base, DEMO_EMAIL, DEMO_PASSWORD)
    expect(status == 403 and code == "account_disabled", f"the disabled account's sign-in answered {status} {code}")
    b.full_shot("08b-disabled")


def step_enable(b, state):
    reason = "e2e enable " + secrets.token_hex(3)
    b.type_into('[data-testid="access-reason"]', reason)
    b.find('[data-testid="access-submit"]').click()
    confirm_step(b, "09a-enable-confirm")
    b.wait(lambda: b.find('[data-testid="access-state"]').get_attribute("data-state") == "active", message="the account did not show as active again")
    expect(not b.all('#account-marks [data-testid="mark-disabled"]'), "the 'disabled' mark stayed")
    status, code = login_status(b.base, DEMO_EMAIL, DEMO_PASSWORD)
    expect(status == 200, f"the enabled account's sign-in answered {status} {code}")


def step_self(b, state):
    b.open("/admin/user?id=" + state["admin_id"])
    b.wait(lambda: b.text('[data-testid="account-email"]') == state["admin_email"], message="the administrator's own page did not load")
    expect(b.shown("#access-self") and not b.shown('[data-testid="access-form"]'), "the own account offers to disable itself")
    status, answer = b.call("POST", f"/api/v1/admin/users/{state['admin_id']}/disable", {"reason": "self"})
    expect(status == 422 and answer["error"]["code"] == "cannot_disable_self", f"the API answered {status} {answer}")
    b.open("/admin/user?id=00000000-0000-4000-8000-000000000000")
    b.wait(lambda: b.shown('[data-testid="user-error"]'), message="an unknown account shows no error")
    expect(b.text('[data-testid="user-error"]'), "the unknown account's error is empty")


def admin_api(b, state, method, path, body=None):
    """(status, JSON) from the admin API with the administrator's cookie and CSRF header, outside the browser."""
    cookies = state["admin_cookies"]
    status, answer, _ = http(b.base, method, "/api/v1/admin" + path, body,
                             headers={"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", "")), "Accept-Language": "vi"}, cookies=cookies)
    return status, answer


def studio_row(base):
    """The model the studio chooses first and the price row it quotes first (its first options)."""
    catalog = http(base, "GET", "/api/v1/models")[1]
    model = next(m for m in catalog["models"] if m["default"])
    defaults = model["defaults"]
    return model["id"], {"duration": defaults["duration"], "resolution": defaults["resolution"], "audio": defaults["audio"]}


def price_row_css(model_id, row):
    return (f'#model-{css_id(model_id)} [data-testid="price-row"][data-duration="{row["duration"]}"]'
            f'[data-resolution="{row["resolution"]}"][data-audio="{str(row["audio"]).lower()}"]')


def css_id(model_id):
    return model_id.replace(".", "\\.")


def open_prices(b, model_id):
    b.js("var d = document.querySelector('#model-' + CSS.escape(arguments[0]) + ' details'); if (d) d.open = true;", model_id)


def set_price(b, model_id, row, credits, reason, shot=None):
    css = price_row_css(model_id, row)
    open_prices(b, model_id)
    b.click(css + ' [data-action="edit-price"]')
    b.wait(lambda: b.shown('[data-testid="price-editor"]'), message="edit opened no editor")
    b.type_into('[data-testid="price-input"]', str(credits))
    b.type_into('[data-testid="price-reason"]', reason)
    b.find('[data-testid="price-editor"] [data-action="save"]').click()
    b.wait(lambda: b.shown('[data-testid="confirm"]'), message="saving a price did not ask for confirmation")
    if shot:
        b.shot(shot)
    b.find('[data-testid="confirm"] [data-action="confirm"]').click()
    b.wait(lambda: not b.all('[data-testid="price-editor"]'), message="the editor stayed open")
    b.wait(lambda: b.value(css + " .price-value") == credits, message=f"the row does not show {credits}")


def studio_price(b):
    b.open("/")
    return b.wait(lambda: b.value("#price-amount"), message="the studio shows no price")


def studio_models(b):
    """The models the studio's picker offers: [(id, available, reason)]."""
    b.open("/")
    b.wait(lambda: b.all('#model-list .model-option'), message="the studio's model picker is empty")
    return b.js("""return Array.prototype.map.call(document.querySelectorAll('#model-list .model-option'), function (o) {
        var why = o.querySelector('[data-testid=model-unavailable]');
        return [o.dataset.model, o.dataset.available === 'true', why ? why.textContent : null]; });""")


def open_change(b, model_id, action):
    b.click(f'#model-{css_id(model_id)} .model-actions [data-action="{action}"]')
    b.wait(lambda: b.shown(f'#model-{css_id(model_id)} [data-testid="model-change"]'), message=f"{action} on {model_id} asked nothing")


def confirm_change(b, model_id, reason):
    panel = f'#model-{css_id(model_id)}'
    b.type_into(panel + ' [data-testid="change-reason"]', reason)
    b.find(panel + ' [data-testid="model-change"] [data-action="confirm"]').click()


def panel_state(b, model_id):
    return b.js("""var p = document.getElementById('model-' + arguments[0]);
        return p ? {enabled: p.dataset.enabled, default: p.dataset.default, available: p.dataset.available} : null;""", model_id)


def step_models(b, state):
    b.click('.admin-tabs a[href="/admin/models"]')
    b.wait(lambda: b.path() == "/admin/models", message="the Models tab did not open the models page")
    b.wait_ready()
    expect(b.text('.admin-tabs a[aria-current="page"]') == VI["admin.tab.models"], "the Models tab is not marked")
    expect(not b.all('.admin-tabs a[href="/admin/prices"]'), "a tab still links the Prices page")
    catalog = admin_api(b, state, "GET", "/models")[1]
    state["admin_catalog"] = catalog
    offered = [m for m in catalog["models"] if not m["retired"]]
    retired = [m for m in catalog["models"] if m["retired"]]
    b.wait(lambda: b.all('[data-testid="model-panel"]'), message="the models page lists no model")
    panels = b.js("""return Array.prototype.map.call(document.querySelectorAll('[data-testid=model-panel]'), function (p) {
        return [p.dataset.model, p.querySelector('[data-testid=model-name]').textContent, !!p.querySelector('[data-testid=mark-default]'),
                p.querySelector('[data-testid=mark-family]').dataset.family, p.querySelectorAll('[data-testid=price-row]').length]; });""")
    expect([p[0] for p in panels] == [m["id"] for m in offered], f"the page lists {[p[0] for p in panels]}, the catalog {[m['id'] for m in offered]}")
    for panel, model in zip(panels, offered):
        expect(panel[1] == model["name"]["vi"] and panel[2] == model["default"] and panel[3] == model["family"] and panel[4] == len(model["prices"]),
               f"{model['id']} shows {panel}, the catalog {model['name']['vi']} default={model['default']} {model['family']} {len(model['prices'])} prices")
    listed = b.js("return Array.prototype.map.call(document.querySelectorAll('[data-testid=retired-row]'), function (r) { return r.dataset.model; });")
    expect(listed == [m["id"] for m in retired], f"the retired table lists {listed}, the catalog {[m['id'] for m in retired]}")
    expect(not b.all('#retired-table button'), "a retired model can be changed")
    # Phim's price beside Kie's list price.
    model_id, row = studio_row(b.base)
    state["price_model"], state["price_row"] = model_id, row
    entry = next(p for p in next(m for m in offered if m["id"] == model_id)["prices"]
                 if p["duration"] == row["duration"] and p["resolution"] == row["resolution"] and p["audio"] == row["audio"])
    open_prices(b, model_id)
    css = price_row_css(model_id, row)
    old = b.value(css + " .price-value")
    expect(old == entry["credits"], f"the row shows {old}, the catalog {entry['credits']}")
    kie = b.text(css + ' [data-testid="kie-price"] .kie-credits')
    expect(entry["provider_credits"] is None or kie.split(" ")[0].replace(",", ".").replace(".", "") == str(entry["provider_credits"]).replace(".", ""),
           f"Kie's list price reads {kie!r}, the catalog {entry['provider_credits']}")
    state["old_price"] = old
    b.full_shot("10a-models")
    # Without a reason it is refused before asking.
    b.click(css + ' [data-action="edit-price"]')
    b.type_into('[data-testid="price-input"]', str(old + 1234))
    b.find('[data-testid="price-reason"]').clear()
    b.find('[data-testid="price-editor"] [data-action="save"]').click()
    b.wait(lambda: b.text('[data-testid="price-error"]') == VI["admin.reason_required"], message="a price without a reason shows no error")
    b.find('[data-testid="price-editor"] [data-action="cancel"]').click()
    new = old + 1234
    state["price_reason"] = "e2e price " + secrets.token_hex(3)
    set_price(b, model_id, row, new, state["price_reason"], shot="10b-price-confirm")
    shown = studio_price(b)
    expect(shown == new, f"the studio prices a new video at {shown}, not {new}")
    b.shot("10c-studio-new-price")
    b.open("/admin/models")
    b.wait(lambda: b.all('[data-testid="price-row"]'), message="the models page lists no price")
    set_price(b, model_id, row, old, "e2e: back to the old price")
    expect(restored_price(b.base, model_id, row) == old, f"the price was not set back to {old}")


def restored_price(base, model_id, row):
    catalog = http(base, "GET", "/api/v1/models")[1]
    model = next((m for m in catalog["models"] if m["id"] == model_id), None)
    return next((p["credits"] for p in (model or {}).get("prices", []) if all(p[k] == v for k, v in row.items())), None)


def step_model_switch(b, state):
    b.open("/admin/models")
    b.wait(lambda: b.all('[data-testid="model-panel"]'), message="the models page lists no model")
    catalog = http(b.base, "GET", "/api/v1/models")[1]
    default = next(m["id"] for m in catalog["models"] if m["default"])
    expect(SWITCHED in [m["id"] for m in catalog["models"]] and SWITCHED != default, f"{SWITCHED} is not an offered, non-default model")
    # Switching off asks for a reason first.
    open_change(b, SWITCHED, "disable")
    b.find(f'#model-{css_id(SWITCHED)} [data-testid="model-change"] [data-action="confirm"]').click()
    b.wait(lambda: b.text(f'#model-{css_id(SWITCHED)} [data-testid="change-error"]') == VI["admin.reason_required"],
           message="switching off without a reason shows no error")
    b.shot("10b-model-disable")
    state["switched_off"] = True
    state["switch_reason"] = "e2e switch " + secrets.token_hex(3)
    confirm_change(b, SWITCHED, state["switch_reason"])
    b.wait(lambda: (panel_state(b, SWITCHED) or {}).get("enabled") == "false", message=f"{SWITCHED} does not show as switched off")
    expect(b.shown(f'#model-{css_id(SWITCHED)} [data-testid="mark-disabled"]'), "the switched-off model has no 'switched off' mark")
    offered = [m[0] for m in studio_models(b)]
    expect(SWITCHED not in offered, f"the studio still offers {SWITCHED}: {offered}")
    expect(SWITCHED not in [m["id"] for m in http(b.base, "GET", "/api/v1/models")[1]["models"]], "GET /api/v1/models still offers it")
    b.shot("10b-studio-without-model")
    b.open("/admin/models")
    b.wait(lambda: b.all('[data-testid="model-panel"]'), message="the models page lists no model")
    open_change(b, SWITCHED, "enable")
    confirm_change(b, SWITCHED, "e2e: on again")
    b.wait(lambda: (panel_state(b, SWITCHED) or {}).get("enabled") == "true", message=f"{SWITCHED} does not show as switched on again")
    state.pop("switched_off", None)
    expect(SWITCHED in [m[0] for m in studio_models(b)], f"the studio does not offer {SWITCHED} again")
    # The default model cannot be switched off: the server says why, on the page.
    b.open("/admin/models")
    b.wait(lambda: b.all('[data-testid="model-panel"]'), message="the models page lists no model")
    open_change(b, default, "disable")
    refusal = admin_api(b, state, "PUT", f"/models/{default}", {"enabled": False, "reason": "e2e: the default cannot go"})
    expect(refusal[0] == 422 and refusal[1]["error"]["code"] == "model_is_default", f"switching off the default answered {refusal}")
    confirm_change(b, default, "e2e: the default cannot go")
    b.wait(lambda: b.text(f'#model-{css_id(default)} [data-testid="change-error"]') == refusal[1]["error"]["message"],
           message=f"the refusal shows {b.text(f'#model-{css_id(default)} [data-testid=change-error]')!r}, the API says {refusal[1]['error']['message']!r}")
    expect((panel_state(b, default) or {}).get("enabled") == "true", "the default model shows as switched off")
    b.shot("10b-default-refused")
    b.find(f'#model-{css_id(default)} [data-testid="model-change"] [data-action="back"]').click()
    # Another model made the default (the studio chooses it first), then the old one again.
    state["old_default"] = default
    open_change(b, OTHER_DEFAULT, "default")
    confirm_change(b, OTHER_DEFAULT, "e2e: default for a moment")
    b.wait(lambda: (panel_state(b, OTHER_DEFAULT) or {}).get("default") == "true", message=f"{OTHER_DEFAULT} did not become the default")
    expect((panel_state(b, default) or {}).get("default") == "false", f"{default} still shows as the default")
    b.open("/")
    b.wait(lambda: b.find("#model-button").get_attribute("data-model") == OTHER_DEFAULT, message="the studio does not choose the new default first")
    b.open("/admin/models")
    b.wait(lambda: b.all('[data-testid="model-panel"]'), message="the models page lists no model")
    open_change(b, default, "default")
    confirm_change(b, default, "e2e: the default back")
    b.wait(lambda: (panel_state(b, default) or {}).get("default") == "true", message=f"{default} is not the default again")
    state.pop("old_default", None)


def step_paused(b, state):
    model_id = state.get("paused_model")
    if not model_id:
        raise Skipped("no paused model in this run (start phim up with PHIM_SIMULATOR_PAUSED_MODELS=<provider id> "
                      "and a catalog model using it, then pass --paused-model <catalog id>)")
    catalog = http(b.base, "GET", "/api/v1/models")[1]
    model = next((m for m in catalog["models"] if m["id"] == model_id), None)
    expect(model is not None, f"{model_id} is not offered: {[m['id'] for m in catalog['models']]}")
    if model["available"]:
        # The provider refuses it on the next create: the server learns it then.
        cookies = customer_cookies(b.base)
        status, answer, _ = http(b.base, "POST", "/api/v1/videos", {"prompt": "e2e: a paused model " + secrets.token_hex(3), "model": model_id},
                                 headers={"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", "")), "Idempotency-Key": secrets.token_hex(16)},
                                 cookies=cookies)
        deadline = time.time() + 20
        while time.time() < deadline and next(m for m in http(b.base, "GET", "/api/v1/models")[1]["models"] if m["id"] == model_id)["available"]:
            time.sleep(0.5)
    model = next(m for m in http(b.base, "GET", "/api/v1/models")[1]["models"] if m["id"] == model_id)
    if model["available"]:
        raise Skipped(f"the server never marked {model_id} unavailable (this build's simulator does not refuse it yet)")
    shown = {m[0]: m for m in studio_models(b)}
    # Users read Phim's words; the provider's own ("This interface is temporarily paused") are for operators.
    expect(model_id in shown and shown[model_id][1] is False and "temporarily paused" not in (shown[model_id][2] or "")
           and "unavailable_reason" not in model, f"the studio does not grey {model_id} in Phim's words: {shown.get(model_id)}")
    b.find("#model-button").click()
    b.wait(lambda: b.shown('#model-list'), message="the model list did not open")
    b.click(f'.model-option[data-model="{model_id}"]')
    expect(b.find("#model-button").get_attribute("data-model") != model_id, "a paused model could be chosen")
    b.shot("10c-paused-in-studio")
    b.open(f"/admin/models#model-{model_id}")
    b.wait(lambda: b.shown(f'#model-{css_id(model_id)} [data-testid="model-availability"]'), message="the models page shows no availability")
    expect("This interface is temporarily paused" in b.text(f'#model-{css_id(model_id)} [data-testid="model-availability"]'),
           "the page does not give the provider's reason")
    b.shot("10c-paused-model")
    b.click(f'#model-{css_id(model_id)} [data-testid="model-recheck"]')
    b.wait(lambda: b.shown(f'#model-{css_id(model_id)} [data-testid="model-change"]'), message="'try again now' asked nothing")
    confirm_change(b, model_id, "e2e: try it again")
    b.wait(lambda: (panel_state(b, model_id) or {}).get("available") == "true", message=f"{model_id} is still unavailable after 'try again now'")
    state["rechecked"] = True


def customer_cookies(base):
    """A session of the demo account, outside the browser (for making its videos)."""
    status, answer, headers = http(base, "POST", "/api/v1/auth/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    expect(status == 200, f"the demo account cannot sign in: {status} {answer}")
    cookies = {}
    for header in headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        cookies[name.strip()] = rest.split(";", 1)[0]
    return cookies


def make_video(base, cookies, prompt):
    status, answer, _ = http(base, "POST", "/api/v1/videos", {"prompt": prompt},
                             headers={"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", "")), "Idempotency-Key": secrets.token_hex(16)},
                             cookies=cookies)
    expect(status in (200, 202), f"making a video answered {status} {answer}")
    return answer


def video_rows(b):
    return b.js("""return Array.prototype.map.call(document.querySelectorAll('[data-testid=video-row]'), function (r) {
        return {id: r.dataset.id, status: r.dataset.status, model: r.dataset.model}; });""")


def choose_filter(b, css, value):
    b.js("var s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change', {bubbles: true}));", css, value)


def step_videos(b, state):
    cookies = customer_cookies(b.base)
    slow = make_video(b.base, cookies, "e2e: một con thuyền chậm rãi #slow " + secrets.token_hex(3))
    failed = make_video(b.base, cookies, "e2e: một video lỗi #fail " + secrets.token_hex(3))
    state["slow_video"] = slow["id"]
    b.open("/admin/videos")
    b.wait(lambda: {slow["id"], failed["id"]} <= {r["id"] for r in video_rows(b)}, message="the new videos are not listed")
    expect(b.text('.admin-tabs a[aria-current="page"]') == VI["admin.tab.videos"], "the Videos tab is not marked")
    owner = b.text(f'[data-testid="video-row"][data-id="{slow["id"]}"] .owner')
    expect(owner == DEMO_EMAIL, f"the video's account reads {owner!r}")
    # The failure groups (the #fail video fails within seconds).
    deadline = time.time() + 20
    while time.time() < deadline and http(b.base, "GET", f"/api/v1/videos/{failed['id']}", cookies=cookies)[1].get("status") != "failed":
        time.sleep(0.5)
    b.open("/admin/videos")
    b.wait(lambda: b.all('[data-testid="failure-row"][data-reason="provider_failed"]'), message="the failures lack provider_failed")
    expect(b.text('[data-testid="failure-row"][data-reason="provider_failed"] .reason-name strong') == VI["admin.failure.provider_failed"],
           "the failure reason is not in words")
    b.full_shot("10d-videos")
    # Filters: state, model, age; kept in the address.
    choose_filter(b, "#filter-state", "failed")
    b.wait(lambda: video_rows(b) and all(r["status"] == "failed" for r in video_rows(b)) and failed["id"] in [r["id"] for r in video_rows(b)],
           message=f"the failed filter lists {video_rows(b)}")
    expect("state=failed" in b.driver.current_url, f"the filter is not in the address: {b.driver.current_url}")
    choose_filter(b, "#filter-state", "")
    # The model filter offers the catalog (retired models too), named; the rows name their model.
    catalog = admin_api(b, state, "GET", "/models")[1]["models"]
    options = b.js("return Array.prototype.map.call(document.querySelectorAll('#filter-model option'), function (o) { return [o.value, o.textContent]; });")
    expect([o[0] for o in options[1:]] == [m["id"] for m in catalog], f"the model filter offers {[o[0] for o in options]}")
    expect(all(o[1].startswith(m["name"]["vi"]) for o, m in zip(options[1:], catalog)), f"the model filter's words: {options}")
    slow_model = http(b.base, "GET", f"/api/v1/videos/{slow['id']}", cookies=cookies)[1]["model"]
    named = b.text(f'[data-testid="video-row"][data-id="{slow["id"]}"] .model-name')
    expect(named == next(m["name"]["vi"] for m in catalog if m["id"] == slow_model), f"the row names the model {named!r}")
    other = next(m["id"] for m in catalog if m["id"] != slow_model)
    choose_filter(b, "#filter-model", other)
    b.wait(lambda: all(r["model"] == other for r in video_rows(b)) and slow["id"] not in [r["id"] for r in video_rows(b)],
           message=f"the model filter lists {video_rows(b)}")
    expect(f"model={other}" in b.driver.current_url, f"the model filter is not in the address: {b.driver.current_url}")
    choose_filter(b, "#filter-model", "")
    choose_filter(b, "#filter-hours", "1")
    b.wait(lambda: slow["id"] in [r["id"] for r in video_rows(b)], message="the last hour lacks the new video")
    b.driver.refresh()
    b.wait_ready()
    expect(b.find("#filter-hours").get_attribute("value") == "1", "the age filter was lost on a reload")
    b.wait(lambda: slow["id"] in [r["id"] for r in video_rows(b)], message="after a reload the list lacks the new video")
    # Ask the provider now about an unfinished video (asked at most once per interval: try again until
    # it is asked). One made just now: these models send no progress callbacks, so the reconciler asks
    # about a quiet video every interval itself once PHIM_STALE_AFTER_SECONDS have passed, and an
    # operator's ask then seldom finds the interval free.
    asking = make_video(b.base, cookies, "e2e: hỏi nhà cung cấp #slow " + secrets.token_hex(3))
    b.driver.refresh()
    b.wait_ready()
    row = f'[data-testid="video-row"][data-id="{asking["id"]}"]'
    asked = None
    deadline = time.time() + 40
    while time.time() < deadline:
        b.wait(lambda: b.find(row + ' [data-testid="reconcile"]'), message="the unfinished video has no 'ask the provider now'")
        try:
            b.click(row + ' [data-testid="reconcile"]')
        except StaleElementReferenceException:
            continue  # the row was drawn again meanwhile; find its button anew
        # Read the result in one go: the page may draw the row again at any moment.
        asked, text = b.wait(lambda: b.js(
            "const n = document.querySelector(arguments[0]);"
            "return n && n.textContent ? [n.getAttribute('data-asked'), n.textContent] : null;",
            row + ' [data-testid="reconcile-result"]'), message="asking showed no result")
        if asked == "true":
            break
        expect(text == VI["admin.reconcile.asked_recently"], f"asking was refused with {text!r}")
        time.sleep(2)
    expect(asked == "true", "the provider was never asked")
    expect(b.text(row + ' [data-testid="reconcile-result"]').startswith(VI["admin.reconcile.unchanged"].split("{")[0]),
           f"the answer reads {b.text(row + ' [data-testid=reconcile-result]')!r}")
    b.shot("10e-reconcile")
    # The stuck view asks its own endpoint.
    b.find('[data-testid="view-stuck"]').find_element(By.XPATH, "..").click()
    b.wait(lambda: b.shown('[data-testid="stuck-note"]') and not b.shown('[data-testid="filters"]'), message="the stuck view did not open")
    stuck = http(b.base, "GET", "/api/v1/admin/videos/stuck", cookies=state["admin_cookies"])[1]["data"]
    b.wait(lambda: (b.shown('[data-testid="videos-empty"]') if not stuck else len(video_rows(b)) == len(stuck)),
           message=f"the stuck view does not match the API's {len(stuck)} videos")
    expect("view=stuck" in b.driver.current_url, "the stuck view is not in the address")
    b.shot("10f-stuck")


def step_provider(b, state):
    b.click('.admin-tabs a[href="/admin/provider"]')
    b.wait(lambda: b.path() == "/admin/provider", message="the Provider tab did not open")
    b.wait_ready()
    health = http(b.base, "GET", "/api/v1/admin/provider", cookies=state["admin_cookies"])[1]
    expect(isinstance(health.get("balance"), int), f"the provider health has no balance: {health}")
    shown = b.wait(lambda: b.value('[data-testid="provider-balance"]'), message="the page shows no balance")
    expect(abs(shown - health["balance"]) <= 1000, f"the page shows {shown}, the API {health['balance']}")
    expect(b.shown('[data-testid="balance-low"]') == bool(health["balance_low"]), "the low-balance warning does not match the API")
    expect(b.all('[data-testid="outcome-row"][data-outcome="ok"]'), "no successful calls are listed")
    expect(b.value('[data-testid="provider-calls"]') is not None, "no call count")
    # The warning, as an operator sees it when the balance is low (the same page, the answer made low).
    b.js("""var real = window.fetch; window.fetch = function (url, init) {
        return real(url, init).then(function (r) {
          if (String(url).indexOf('/api/v1/admin/provider') < 0) return r;
          return r.json().then(function (j) { j.balance = 1200; j.balance_low = true; return new Response(JSON.stringify(j), {status: 200, headers: {'Content-Type': 'application/json'}}); });
        }); };""")
    b.find('[data-testid="provider-refresh"]').click()
    b.wait(lambda: b.shown('[data-testid="balance-low"]'), message="a low balance shows no warning")
    expect("1.200" in b.text('[data-testid="balance-low"]'), f"the warning reads {b.text('[data-testid=balance-low]')!r}")
    b.full_shot("10g-provider-low")
    # Creates per model over 24 hours, named from the catalog; the models the provider refuses.
    by_model = health.get("creates_by_model") or []
    b.wait(lambda: len(b.all('[data-testid="by-model-row"]')) == len(by_model), message=f"the page does not list the {len(by_model)} models' creates")
    expect(by_model, "the provider health counts no creates after this run made videos")
    for entry in by_model:
        row = f'[data-testid="by-model-row"][data-model="{entry["model"]}"]'
        expect(b.text(row + " td:nth-child(2)") == words(VI, "credits.amount", amount=entry["calls"]).split(" ")[0], f"{entry['model']} calls read {b.text(row + ' td:nth-child(2)')!r}, the API {entry['calls']}")
    paused = health.get("unavailable_models") or []
    expect(len(b.all('[data-testid="paused-model"]')) == len(paused), "the refused models do not match the API's")
    expect(b.shown('[data-testid="paused-empty"]') == (not paused), "the 'every model accepted' line does not match the API")
    b.driver.refresh()
    b.wait_ready()
    b.wait(lambda: b.value('[data-testid="provider-balance"]'), message="the page shows no balance after a reload")
    b.full_shot("10h-provider")


def queue_shown(b):
    """The Queue page's numbers: {length, running, sent_minute, busy, accounts: {user_id: queued}}."""
    return b.js("""function v(id) { var e = document.querySelector('[data-testid=' + id + ']'); return e && e.dataset.value !== '' ? Number(e.dataset.value) : null; }
        var accounts = {};
        Array.prototype.forEach.call(document.querySelectorAll('[data-testid=queue-account-row]'), function (r) {
          accounts[r.dataset.user] = Number(r.querySelector('.queued .num-value').dataset.value); });
        return {length: v('queue-length'), running: v('queue-running'), sent_minute: v('queue-sent-minute'), busy: v('queue-busy'), accounts: accounts};""")


def queue_matches(b, state):
    """The page shows what the API says now (the page refreshes itself every 5 seconds)."""
    report = http(b.base, "GET", "/api/v1/admin/queue", cookies=state["admin_cookies"])[1]
    api = {"length": report["queued"], "running": report["running"], "sent_minute": report["sent_last_minute"], "busy": report["busy_last_hour"],
           "accounts": {a["user_id"]: a["queued"] for a in report["accounts"]}}
    state["queue_last"] = (queue_shown(b), api)
    return report if queue_shown(b) == api else None


def set_limits(b, creates, running, reason):
    b.type_into('[data-testid="limit-creates"]', str(creates))
    b.type_into('[data-testid="limit-running"]', str(running))
    b.type_into('[data-testid="limit-reason"]', reason)
    b.click('[data-testid="limits-submit"]')


def step_queue(b, state):
    b.click('.admin-tabs a[href="/admin/queue"]')
    b.wait(lambda: b.path() == "/admin/queue", message="the Queue tab did not open the queue page")
    b.wait_ready()
    expect(b.text('.admin-tabs a[aria-current="page"]') == VI["admin.tab.queue"], "the Queue tab is not marked")
    before = http(b.base, "GET", "/api/v1/admin/queue", cookies=state["admin_cookies"])[1]["limits"]
    state["queue_limits"] = before
    b.wait(lambda: b.find('[data-testid="limit-running"]').get_attribute("value") == str(before["max_running"]),
           message="the form does not hold the limits in force")
    # One task at a time, set on the page with a reason: the demo account's next videos wait in the queue.
    reason = "e2e: one at a time " + secrets.token_hex(3)
    set_limits(b, before["creates_per_10s"], 1, reason)
    b.wait(lambda: b.text('[data-testid="queue-limits"]') == words(VI, "admin.queue.limits_value", creates=before["creates_per_10s"], running=1),
           message=f"the page does not show the new limit: {b.text('[data-testid=queue-limits]')!r}")
    expect(b.text('[data-testid="queue-limits-source"]') == VI["admin.queue.set_by_operator"], "the limit is not shown as an operator's")
    expect(http(b.base, "GET", "/api/v1/admin/queue", cookies=state["admin_cookies"])[1]["limits"]["max_running"] == 1, "the API does not have the new limit")
    state["queue_reason"] = reason
    cookies = customer_cookies(b.base)
    made = [make_video(b.base, cookies, f"e2e: xếp hàng {n} " + secrets.token_hex(2)) for n in range(3)]
    state["queue_videos"] = [video["id"] for video in made]
    b.wait(lambda: queue_matches(b, state) and state["demo_id"] in state["queue_last"][0]["accounts"], seconds=15,
           message=f"the page does not show the API's queue with the waiting account: {state.get('queue_last')}")
    row = f'[data-testid="queue-account-row"][data-user="{state["demo_id"]}"]'
    expect(b.text(row + " a") == DEMO_EMAIL, f"the waiting account reads {b.text(row + ' a')!r}")
    b.full_shot("10h2-queue")
    # The Videos page names the waiting videos as queued, and finds them by that state.
    b.open("/admin/videos")
    choose_filter(b, "#filter-state", "queued")
    b.wait(lambda: set(state["queue_videos"]) & {r["id"] for r in video_rows(b)}, message="the Videos page does not list the queued videos")
    rows = video_rows(b)
    expect(all(r["status"] == "queued" for r in rows), f"the queued filter lists {rows}")
    badge = b.text(f'[data-testid="video-row"][data-id="{rows[0]["id"]}"] [data-testid="status"]')
    expect(badge == VI["status.queued"], f"a queued video's state reads {badge!r}")
    b.open("/admin/queue")
    b.wait(lambda: b.find('[data-testid="limit-running"]').get_attribute("value") == "1", message="the Queue page did not load again")
    # A limit over the maximum: the server's refusal, in the page's language; nothing changes.
    set_limits(b, 100001, 1, "e2e: too many")
    b.wait(lambda: b.shown('[data-testid="limits-error"]'), message="a bad limit shows no error")
    refused = admin_api(b, state, "PUT", "/queue/limits", {"creates_per_10s": 100001, "reason": "e2e: too many"})
    expect(refused[0] == 422 and b.text('[data-testid="limits-error"]') == refused[1]["error"]["message"],
           f"the page shows {b.text('[data-testid=limits-error]')!r}, the API {refused}")
    expect(http(b.base, "GET", "/api/v1/admin/queue", cookies=state["admin_cookies"])[1]["limits"]["creates_per_10s"] == before["creates_per_10s"],
           "a refused limit changed the limits")
    b.shot("10h3-queue-invalid")
    # Put back: the waiting videos are sent and made.
    set_limits(b, before["creates_per_10s"], before["max_running"], "e2e: back " + secrets.token_hex(3))
    b.wait(lambda: b.text('[data-testid="queue-limits"]') == words(VI, "admin.queue.limits_value", creates=before["creates_per_10s"], running=before["max_running"]),
           message="the page does not show the limit put back")
    state.pop("queue_limits", None)
    b.wait(lambda: all(http(b.base, "GET", f"/api/v1/videos/{video_id}", cookies=cookies)[1].get("status") == "completed"
                       for video_id in state["queue_videos"]), seconds=40, message="the waiting videos were not made once the limit was put back")
    b.wait(lambda: queue_matches(b, state) and state["demo_id"] not in state["queue_last"][0]["accounts"], seconds=15,
           message=f"the page does not show the emptied queue: {state.get('queue_last')}")


def studio_chips(b):
    b.open("/")
    b.wait(lambda: b.js("return document.getElementById('gallery-loading').hidden"), message="the studio did not load")
    b.wait(lambda: b.all("#styles .chip"), message="the studio shows no style chips")
    return b.js("return Array.prototype.map.call(document.querySelectorAll('#styles .chip'), function (c) { return [c.dataset.key, c.textContent]; });")


def style_row(key):
    return f'[data-testid="style-row"][data-key="{key}"]'


def step_styles(b, state):
    before = studio_chips(b)
    key, old_name = before[0]
    b.open("/admin/styles")
    b.wait(lambda: b.all('[data-testid="style-row"]'), message="the styles table is empty")
    expect(b.text('.admin-tabs a[aria-current="page"]') == VI["admin.tab.styles"], "the Styles tab is not marked")
    original = http(b.base, "GET", "/api/v1/admin/styles", cookies=state["admin_cookies"])[1]["data"]
    preset = next(p for p in original if p["key"] == key)
    state["style_restore"] = preset
    # Edit: the form shows the current values.
    b.find(style_row(key) + ' [data-action="edit"]').click()
    editor = '[data-testid="style-editor"]'
    b.wait(lambda: b.shown(editor), message="edit opened no form")
    expect(b.find(editor + ' [data-testid="style-name-vi-input"]').get_attribute("value") == preset["name_vi"], "the form lacks the current name")
    expect(b.find(editor + ' [data-testid="style-text-input"]').get_attribute("value") == preset["prompt_text"], "the form lacks the current words")
    new_name = "E2E " + secrets.token_hex(2)
    b.type_into(editor + ' [data-testid="style-name-vi-input"]', new_name)
    b.type_into(editor + ' [data-testid="style-name-vi-input"]', "")
    b.find(editor + ' [data-action="save"]').click()
    b.wait(lambda: b.shown(editor + ' [data-testid="style-error"]'), message="an empty name shows no error")
    expect(b.text(editor + ' [data-testid="style-error"]'), "the API's refusal is not shown")
    b.type_into(editor + ' [data-testid="style-name-vi-input"]', new_name)
    b.shot("10i-style-edit")
    b.find(editor + ' [data-action="save"]').click()
    b.wait(lambda: not b.all(editor) and b.text(style_row(key) + ' [data-testid="style-name-vi"]') == new_name,
           message="the edited name does not show")
    expect(studio_chips(b)[0] == [key, new_name], f"the studio's chip does not carry the new name: {studio_chips(b)[:1]}")
    # Switched off, it leaves the studio; switched on, it comes back.
    b.open("/admin/styles")
    b.wait(lambda: b.all(style_row(key)), message="the styles table is empty")
    b.find(style_row(key) + ' [data-testid="style-toggle"]').click()
    b.wait(lambda: b.find(style_row(key)).get_attribute("data-enabled") == "false", message="switching off did not show")
    b.full_shot("10j-style-off")
    chips = studio_chips(b)
    expect(key not in [c[0] for c in chips] and len(chips) == len(before) - 1, f"the switched-off style still shows in the studio: {chips}")
    b.open("/admin/styles")
    b.wait(lambda: b.all(style_row(key)), message="the styles table is empty")
    b.find(style_row(key) + ' [data-testid="style-toggle"]').click()
    b.wait(lambda: b.find(style_row(key)).get_attribute("data-enabled") == "true", message="switching on did not show")
    b.find(style_row(key) + ' [data-action="edit"]').click()
    b.type_into(editor + ' [data-testid="style-name-vi-input"]', old_name)
    b.find(editor + ' [data-action="save"]').click()
    b.wait(lambda: b.text(style_row(key) + ' [data-testid="style-name-vi"]') == old_name, message="the old name did not come back")
    expect(studio_chips(b) == before, "the studio's chips are not as they were")
    state.pop("style_restore", None)
    # A new style with a bad key is refused with the API's message.
    b.open("/admin/styles")
    b.wait(lambda: b.shown('[data-testid="new-style"]'), message="no form for a new style")
    b.type_into('[data-testid="new-style"] [data-testid="style-key"]', "Bad Key!")
    b.type_into('[data-testid="new-style"] [data-testid="style-name-vi-input"]', "Thử")
    b.type_into('[data-testid="new-style"] [data-testid="style-name-en-input"]', "Try")
    b.type_into('[data-testid="new-style"] [data-testid="style-text-input"]', "test words")
    b.find('[data-testid="new-style"] [data-action="save"]').click()
    b.wait(lambda: b.shown('[data-testid="new-style"] [data-testid="style-error"]'), message="a bad key shows no error")
    cookies = state["admin_cookies"]
    status, answer, _ = http(b.base, "PUT", "/api/v1/admin/styles", {"key": "Bad Key!", "name_vi": "Thử", "name_en": "Try", "prompt_text": "test words"},
                             headers={"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", "")), "Accept-Language": "vi"}, cookies=cookies)
    expect(status == 422 and answer["error"]["code"] == "invalid_style", f"the API answered {status} {answer}")
    expect(b.text('[data-testid="new-style"] [data-testid="style-error"]') == answer["error"]["message"],
           f"the page shows {b.text('[data-testid=new-style] [data-testid=style-error]')!r}, not the API's message")
    b.shot("10k-style-invalid")
    b.js("window.scrollTo(0, 0);")


def step_audit(b, state):
    b.click('.admin-tabs a[href="/admin/audit"]')
    b.wait(lambda: b.path() == "/admin/audit", message="the Audit tab did not open the audit log")
    b.wait_ready()
    b.wait(lambda: b.all('[data-testid="audit-row"]'), message="the audit log is empty")
    rows = b.js("""return Array.prototype.map.call(document.querySelectorAll('[data-testid=audit-row]'), function (r) {
        return {action: r.dataset.action, who: r.querySelector('.who').textContent, target: r.querySelector('.target').textContent,
                reason: r.querySelector('.reason').lastChild.textContent, badge: r.querySelector('.action-badge').textContent,
                before: Array.prototype.map.call(r.querySelectorAll('.change-before'), function (n) { return n.dataset.value || n.textContent; }),
                after: Array.prototype.map.call(r.querySelectorAll('.change-after'), function (n) { return n.dataset.value || n.textContent; })};
      });""")
    mine = [r for r in rows if r["who"] == state["admin_email"]]
    actions = [r["action"] for r in mine]
    for action in ("credits.grant", "credits.deduct", "account.disable", "account.enable", "model.set_price", "model.disable", "model.enable",
                   "model.set_default", "job.reconcile", "style.update") + (("model.recheck",) if state.get("rechecked") else ()):
        expect(action in actions, f"the audit log lacks {action}: {actions}")
    if state.get("queue_reason"):
        limits = next((r for r in mine if r["action"] == "queue.limits" and r["reason"] == state["queue_reason"]), None)
        expect(limits is not None and limits["badge"] == VI["admin.action.queue_limits"] and limits["target"] == "provider queue"
               and limits["after"][-1] == "1", f"the queue limit change is {limits}")
        expect(not any(r["reason"] == "e2e: too many" for r in mine), "a refused limit was audited")
    grant = next(r for r in mine if r["action"] == "credits.grant")
    expect(grant["target"] == DEMO_EMAIL and grant["reason"] == state["grant_reason"], f"the grant entry is {grant}")
    expect(grant["badge"] == VI["admin.action.grant"], f"the grant's action reads {grant['badge']!r}")
    expect(grant["before"] and grant["after"] and int(grant["after"][0]) - int(grant["before"][0]) == 5000,
           f"the grant's before → after is {grant['before']} → {grant['after']}")
    disable = next(r for r in mine if r["action"] == "account.disable")
    expect(disable["before"] == [VI["admin.value.active"]] and disable["after"] == [VI["admin.value.disabled"]],
           f"the disable entry shows {disable['before']} → {disable['after']}")
    price = next((r for r in mine if r["action"] == "model.set_price" and r["reason"] == state["price_reason"]), None)
    expect(price is not None, f"the price change with its reason is not in the audit log: {[r for r in mine if r['action'] == 'model.set_price']}")
    expect(price["target"] == "model " + state["price_model"] and price["badge"] == VI["admin.action.price_set"], f"the price entry is {price}")
    expect(str(state["old_price"]) in price["before"] and str(state["old_price"] + 1234) in price["after"],
           f"the price entry shows {price['before']} → {price['after']}")
    switch = next((r for r in mine if r["action"] == "model.disable" and r["reason"] == state["switch_reason"]), None)
    expect(switch is not None and switch["target"] == "model " + SWITCHED and switch["badge"] == VI["admin.action.model_disable"]
           and switch["before"] == [VI["admin.value.on"]] and switch["after"] == [VI["admin.value.off"]], f"the switch-off entry is {switch}")
    expect(b.text('#audit-rows tr[data-action="credits.grant"] .change-arrow') == "→", "no arrow between before and after")
    b.full_shot("11-audit")


def step_csv(b, state):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    b.js("""var s = document.getElementById('export-since'), u = document.getElementById('export-until');
            s.value = arguments[0]; u.value = arguments[1];
            s.dispatchEvent(new Event('input', {bubbles: true})); u.dispatchEvent(new Event('change', {bubbles: true}));""",
         (today - datetime.timedelta(days=1)).isoformat(), today.isoformat())
    href = b.find('[data-testid="export-link"]').get_attribute("href")
    expected = f"/api/v1/admin/ledger.csv?since={(today - datetime.timedelta(days=1)).isoformat()}&until={(today + datetime.timedelta(days=1)).isoformat()}"
    expect(href == b.base + expected, f"the CSV link is {href}, expected {expected} (the last day included)")
    # A period the wrong way round gives no link.
    b.js("""var s = document.getElementById('export-since'); s.value = arguments[0]; s.dispatchEvent(new Event('input', {bubbles: true}));""",
         (today + datetime.timedelta(days=2)).isoformat())
    expect(b.shown('[data-testid="export-error"]') and b.find('[data-testid="export-link"]').get_attribute("href") is None,
           "a reversed period still offers a link")
    b.js("""var s = document.getElementById('export-since'); s.value = arguments[0]; s.dispatchEvent(new Event('input', {bubbles: true}));""",
         (today - datetime.timedelta(days=1)).isoformat())
    cookies = {c["name"]: c["value"] for c in b.driver.get_cookies()}
    status, body, headers = http(b.base, "GET", urllib.parse.urlparse(href).path + "?" + urllib.parse.urlparse(href).query, cookies=cookies)
    expect(status == 200, f"the CSV answered {status}: {str(body)[:200]}")
    expect(headers.get("Content-Type", "").startswith("text/csv"), f"the CSV's type is {headers.get('Content-Type')}")
    lines = str(body).splitlines()
    expect(lines and lines[0] == CSV_HEADER, f"the CSV's header line is {lines[:1]}")
    expect(any(state["grant_reason"] in line and DEMO_EMAIL in line for line in lines), "the CSV lacks today's grant")
    status, _, _ = http(b.base, "GET", urllib.parse.urlparse(href).path + "?" + urllib.parse.urlparse(href).query)
    expect(status == 404, f"the CSV without a session answered {status}")
    b.shot("12-csv")


def step_english(b, state):
    b.find('[data-testid="lang-en"]').click()
    b.wait(lambda: b.js("return document.documentElement.lang") == "en", message="the switch did not turn the page English")
    expect(b.text("h1") == EN["admin.audit.heading"], f"the heading reads {b.text('h1')!r}")
    expect(b.text('.admin-tabs a[aria-current="page"]') == EN["admin.tab.audit"], "the tabs are not English")
    expect(b.text('#nav a[data-page="admin"]') == EN["nav.admin"], "the Admin link is not English")
    expect(b.text('#audit-rows tr[data-action="credits.grant"] .action-badge') == EN["admin.action.grant"], "the actions are not English")
    grouped = b.text('#audit-rows tr[data-action="credits.grant"] .change-after')
    expect("," in grouped or int(grouped) < 1000, f"English numbers are not grouped with commas: {grouped!r}")
    b.driver.refresh()
    b.wait_ready()
    b.wait(lambda: b.all('[data-testid="audit-row"]'), message="the audit log is empty after a reload")
    expect(b.text("h1") == EN["admin.audit.heading"], "after a reload the page is not English any more")
    b.open("/admin/user?id=" + state["demo_id"])
    b.wait(lambda: b.text('[data-testid="account-email"]') == DEMO_EMAIL, message="the account page did not load")
    expect(b.text('[data-testid="credits-submit"]') == EN["admin.credits.grant_continue"], "the account page is not English")
    b.full_shot("13-english-account")


def step_analytics(b, state):
    b.click('.admin-tabs a[href="/admin/analytics"]')
    b.wait(lambda: b.path() == "/admin/analytics", message="the Analytics tab did not open")
    b.wait_ready()
    expect(b.text('.admin-tabs a[aria-current="page"]') == VI["admin.tab.analytics"], "the Analytics tab is not marked")
    report = http(b.base, "GET", "/api/v1/admin/analytics?days=30", cookies=state["admin_cookies"])[1]
    rows = report.get("by_day_and_model") or []
    made = sum(row["made"] for row in rows)
    expect(made >= 2, f"the analytics API counts {made} videos after this run made some: {report}")
    b.wait(lambda: b.all('[data-testid="analytics-row"]'), message="the analytics table shows no rows")
    expect(len(b.all('[data-testid="analytics-row"]')) == len(rows), "the table does not show every day and model")
    expect(b.value('[data-testid="total-made"]') == made, f"the total shows {b.value('[data-testid=total-made]')}, the API {made}")
    expect(b.value('[data-testid="total-credits"]') == sum(row["credits_charged"] for row in rows), "the credits total does not match the API")
    expect(abs(b.value('[data-testid="total-cost"]') - sum(row["provider_cost_estimate"] for row in rows)) < 0.01, "the cost total does not match the API")
    expect(b.text('[data-testid="total-success"]').endswith("%"), f"the success rate reads {b.text('[data-testid=total-success]')!r}")
    words = [item["word"] for item in report.get("top_words") or []]
    if words:
        shown = b.js("return Array.prototype.map.call(document.querySelectorAll('#top-words .top-name'), function (n) { return n.textContent; });")
        expect(shown == words, f"the top words show {shown}, the API {words}")
    b.full_shot("10j-analytics")
    # Another period asks again.
    b.find('[data-testid="days-7"]').find_element(By.XPATH, "..").click()
    b.wait(lambda: b.js("return !document.getElementById('analytics-body').classList.contains('stale')"), message="the 7-day view never loaded")
    week = http(b.base, "GET", "/api/v1/admin/analytics?days=7", cookies=state["admin_cookies"])[1]
    expect(b.value('[data-testid="total-made"]') == sum(row["made"] for row in week.get("by_day_and_model") or []),
           "the 7-day total does not match the API")


def step_phone(b, state):
    b.driver.set_window_size(390, 844)
    try:
        for path, shot, ready in (("/admin/", "14a-phone-accounts", '[data-testid="user-row"]'),
                                  ("/admin/user?id=" + state["demo_id"], "14b-phone-account", '[data-testid="ledger-row"]'),
                                  ("/admin/models", "14c-phone-models", '[data-testid="model-panel"]'),
                                  ("/admin/audit", "14d-phone-audit", '[data-testid="audit-row"]'),
                                  ("/admin/videos", "14f-phone-videos", '[data-testid="video-row"]'),
                                  ("/admin/provider", "14g-phone-provider", '[data-testid="outcome-row"]'),
                                  ("/admin/styles", "14h-phone-styles", '[data-testid="style-row"]'),
                                  ("/admin/analytics", "14i-phone-analytics", '[data-testid="analytics-row"]'),
                                  ("/admin/queue", "14j-phone-queue", '#queue-body:not([hidden])')):
            b.open(path)
            b.wait(lambda: b.all(ready), message=f"{path} shows nothing on a phone")
            sizes = b.js("return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};")
            expect(sizes["scroll"] <= sizes["inner"], f"{path} scrolls sideways on a phone: {sizes}")
            b.full_shot(shot)
        b.open("/admin/user?id=" + state["demo_id"])
        b.wait(lambda: b.all('[data-testid="ledger-row"]'), message="the account page shows nothing on a phone")
        b.type_into('[data-testid="credits-amount"]', "100")
        b.type_into('[data-testid="credits-reason"]', "phone check")
        b.find('[data-testid="credits-submit"]').click()
        b.wait(lambda: b.shown('[data-testid="confirm"]'), message="no confirmation on a phone")
        b.js("document.querySelector('[data-testid=confirm]').scrollIntoView({block: 'center'});")
        sizes = b.js("var r = document.querySelector('[data-testid=confirm]').getBoundingClientRect(); return {left: r.left, right: r.right, inner: window.innerWidth, scroll: document.documentElement.scrollWidth};")
        expect(sizes["left"] >= 0 and sizes["right"] <= sizes["inner"] + 0.5 and sizes["scroll"] <= sizes["inner"], f"the confirmation overflows: {sizes}")
        b.shot("14e-phone-confirm")
        b.find('[data-testid="confirm"] [data-action="back"]').click()
    finally:
        b.driver.set_window_size(1280, 900)


def step_console(b, state):
    b.collect_console()
    # Failed loads the steps cause on purpose: the admin API's 404 to the customer, the refused changes.
    expected = ("the server responded with a status of 404", "the server responded with a status of 422",
                "the server responded with a status of 402", "/api/v1/me - Failed to load resource: the server responded with a status of 401")
    if state.get("paused_model"):
        expected += ("the server responded with a status of 503",)  # the paused model's refusal, on purpose
    errors = [entry["message"] for entry in b.console if entry.get("level") == "SEVERE" and not any(text in entry["message"] for text in expected)]
    expect(not errors, "console errors: " + json.dumps(errors)[:1200])


STEPS = [
    ("01-customer", "the demo account sees no Admin link, and every admin page shows only 'not found'", step_customer),
    ("02-signed-out", "signed out, an admin page shows 'not found' too", step_signed_out),
    ("03-admin-link", "the administrator sees the Admin link and the accounts with their marks", step_admin_link),
    ("04-search", "search by email finds the demo account and opens its page", step_search),
    ("05-reason-required", "granting without a reason is refused (page and API)", step_reason_required),
    ("06-grant", "granting 5,000 with a reason asks inline, then shows in the balance, ledger and audit", step_grant),
    ("07-deduct", "deducting more than spendable is refused; deducting 2,000 works", step_deduct),
    ("08-disable", "disabling asks inline, marks the account, and its sign-in is refused", step_disable),
    ("09-enable", "enabling lets the account sign in again", step_enable),
    ("09b-self", "an administrator is not offered to disable itself; an unknown account shows the API's error", step_self),
    ("10-models", "the Models page lists the catalog (offered and retired apart) with Kie's list price; a changed price is what the studio quotes; then it is set back", step_models),
    ("10b-model-switch", "switching a model off (with a reason) takes it out of the studio, on again brings it back; the default cannot be switched off (the server's error shown); another default is chosen first in the studio", step_model_switch),
    ("10c-paused", "a model the provider refuses is greyed in the studio with the provider's reason; 'try again now' clears it", step_paused),
    ("10d-videos", "the videos page lists every account's videos with filters and failures; ask the provider now; the stuck view", step_videos),
    ("10g-provider", "the provider page shows the balance and calls; a low balance shows a clear warning", step_provider),
    ("10h-queue", "the Queue page shows the API's numbers and the waiting account; a limit changed with a reason applies (audited); a bad one shows the server's error and changes nothing; then it is put back", step_queue),
    ("10j-analytics", "the analytics page totals the videos made, lists them by day and model, and the top words; another period asks again", step_analytics),
    ("10i-styles", "a style edited and switched off leaves the studio's chips, then comes back; a bad key shows the API's error", step_styles),
    ("11-audit", "the audit log shows who, what, target, before → after and the reason", step_audit),
    ("12-csv", "the ledger CSV link for a period downloads with the session, header line first", step_csv),
    ("13-english", "the admin pages switch to English and stay English after a reload", step_english),
    ("14-phone", "at 390x844 every admin page fits without sideways scroll", step_phone),
    ("15-console", "no unexpected errors in the browser console (CSP violations included)", step_console),
]


def restore_style(base, state):
    """Puts a style back as it was when a step failed before it could."""
    preset = state.get("style_restore")
    if not preset:
        return
    cookies = state["admin_cookies"]
    status, _, _ = http(base, "PUT", "/api/v1/admin/styles", {k: preset[k] for k in ("key", "name_vi", "name_en", "prompt_text", "position", "enabled")},
                        headers={"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", ""))}, cookies=cookies)
    print(f"restored the style {preset['key']}: {status}")


def restore_models(base, state):
    """Puts the catalog back as it was when a step failed before it could (the service outlives the test)."""
    if "admin_cookies" not in state:
        return
    cookies = state["admin_cookies"]
    headers = {"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", ""))}
    if "old_price" in state and restored_price(base, state["price_model"], state["price_row"]) not in (None, state["old_price"]):
        status, _, _ = http(base, "PUT", f"/api/v1/admin/models/{state['price_model']}/prices",
                            dict(state["price_row"], credits=state["old_price"], reason="e2e: restoring the price after a failed step"), headers=headers, cookies=cookies)
        print(f"restored the price of {state['price_model']} {state['price_row']} to {state['old_price']}: {status}")
    if state.get("switched_off"):
        status, _, _ = http(base, "PUT", f"/api/v1/admin/models/{SWITCHED}", {"enabled": True, "reason": "e2e: restoring after a failed step"},
                            headers=headers, cookies=cookies)
        print(f"switched {SWITCHED} on again: {status}")
    if state.get("old_default"):
        status, _, _ = http(base, "PUT", f"/api/v1/admin/models/{state['old_default']}", {"default": True, "reason": "e2e: restoring after a failed step"},
                            headers=headers, cookies=cookies)
        print(f"made {state['old_default']} the default again: {status}")


def restore_queue(base, state):
    """Puts the queue's limits back when a step failed before it could."""
    limits = state.get("queue_limits")
    if not limits:
        return
    cookies = state["admin_cookies"]
    status, _, _ = http(base, "PUT", "/api/v1/admin/queue/limits", {"creates_per_10s": limits["creates_per_10s"], "max_running": limits["max_running"],
                                                                   "reason": "e2e: restoring after a failed step"},
                        headers={"X-CSRF-Token": urllib.parse.unquote(cookies.get("phim_csrf", ""))}, cookies=cookies)
    print(f"restored the queue limits {limits}: {status}")


def main():
    parser = argparse.ArgumentParser(description="Phim operators' pages browser test")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--phim", required=True, help="the phim binary (for `phim users create --admin`)")
    parser.add_argument("--data", required=True, help="the data directory the running Phim uses")
    parser.add_argument("--screenshots", default=os.path.join(tempfile.gettempdir(), "phim-admin-screenshots"))
    parser.add_argument("--only", help="comma-separated step prefixes to run (for debugging)")
    parser.add_argument("--paused-model", help="a catalog model whose provider id the service's simulator refuses (PHIM_SIMULATOR_PAUSED_MODELS)")
    options = parser.parse_args()
    base = options.base_url.rstrip("/")
    email, password, admin_id, cookies = make_admin(os.path.abspath(options.phim), os.path.abspath(options.data), base)
    status, answer, _ = http(base, "GET", "/api/v1/admin/users?query=" + urllib.parse.quote(DEMO_EMAIL), cookies=cookies)
    demo = next((a for a in (answer.get("data", []) if isinstance(answer, dict) else []) if a["email"] == DEMO_EMAIL), None)
    if not demo:
        raise SystemExit(f"no demo account to act on ({status} {answer}); run Phim in demo mode")
    state = {"admin_email": email, "admin_password": password, "admin_id": admin_id, "admin_cookies": cookies, "demo_id": demo["id"],
             "paused_model": options.paused_model}
    print(f"administrator: {email}")
    browser = Browser(base, options.screenshots)
    try:
        passed, failed, skipped = run_steps(browser, STEPS, state, options.only)
    finally:
        browser.quit()
        restore_models(base, state)
        restore_style(base, state)
        restore_queue(base, state)
    print(f"screenshots: {options.screenshots}")
    print(summary(passed, failed, skipped))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

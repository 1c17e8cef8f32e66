// Shared by the operators' pages: the tab bar, the admin API wrapper, amounts, inline confirmations, and the ledger and audit rows.
(function () {
  "use strict";

  var P = window.Phim;
  var el = P.el;
  var setText = P.setText;

  // ------------------------------------------------------------ Tabs

  // Every operators' page, in the tab bar's order: the one list of them. A page names its own tab
  // with <nav class="admin-tabs" data-tab="NAME">, and the bar is drawn here.
  var TABS = [
    { tab: "accounts", href: "/admin/", key: "admin.tab.accounts" },
    { tab: "videos", href: "/admin/videos", key: "admin.tab.videos" },
    { tab: "analytics", href: "/admin/analytics", key: "admin.tab.analytics" },
    { tab: "provider", href: "/admin/provider", key: "admin.tab.provider" },
    { tab: "queue", href: "/admin/queue", key: "admin.tab.queue" },
    { tab: "models", href: "/admin/models", key: "admin.tab.models" },
    { tab: "styles", href: "/admin/styles", key: "admin.tab.styles" },
    { tab: "packages", href: "/admin/packages", key: "admin.tab.packages" },
    { tab: "payments", href: "/admin/payments", key: "admin.tab.payments" },
    { tab: "codes", href: "/admin/codes", key: "admin.tab.codes" },
    { tab: "audit", href: "/admin/audit", key: "admin.tab.audit" }
  ];

  Array.prototype.forEach.call(document.querySelectorAll("nav.admin-tabs[data-tab]"), function (nav) {
    TABS.forEach(function (entry) {
      var link = el("a", "", { href: entry.href, "data-tab": entry.tab });
      if (entry.tab === nav.dataset.tab) link.setAttribute("aria-current", "page");
      nav.appendChild(setText(link, entry.key));
    });
  });

  // Calls /api/v1/admin. A 404 "not_found" means this session is no administrator's any more: a
  // session that ended goes to sign in (common.js does that on /me's 401); an account that lost
  // the admin flag sees "not found", as everyone else does.
  function api(method, path, options) {
    return P.api(method, "/admin" + path, options).catch(function (error) {
      if (error.status !== 404 || error.code !== "not_found") throw error;
      return P.refreshMe().then(function (account) {
        if (account && account.is_admin === true) throw error;
        P.notFound();
        return new Promise(function () {});
      });
    });
  }

  // A whole number of credits as typed ("5000", "5.000", "5,000", "5 000"); null when it is not one.
  function parseAmount(text) {
    var digits = String(text || "").replace(/[\s.,_]/g, "");
    if (!/^\d{1,12}$/.test(digits)) return null;
    var value = Number(digits);
    return value > 0 ? value : null;
  }

  function number(value, className) {
    return P.setNumber(el("span", className || "num-value"), value);
  }

  function signed(value) {
    var node = el("span", "amount", { "data-signed": String(value) });
    node.textContent = P.formatSigned(value);
    return node;
  }

  // Signed amounts are regrouped on a language switch (plain numbers are handled by common.js).
  P.onLanguage(function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-signed]"), function (node) {
      node.textContent = P.formatSigned(Number(node.dataset.signed));
    });
  });

  // ------------------------------------------------------------ Marks

  function marks(account) {
    var box = el("span", "marks");
    if (account.is_admin) box.appendChild(setText(el("span", "mark mark-admin", { "data-testid": "mark-admin" }), "admin.mark.admin"));
    if (account.disabled) box.appendChild(setText(el("span", "mark mark-disabled", { "data-testid": "mark-disabled" }), "admin.mark.disabled"));
    return box;
  }

  // ------------------------------------------------------------ Inline confirmation

  // Shows a question in `slot` with "back" and a confirm button; `action` returns a promise.
  // Resolves true once the action succeeded, false when the operator went back or it failed
  // (the failure is passed to onError, with the server's message).
  function confirmInline(slot, question, detail, confirmKey, danger, action, onError) {
    while (slot.firstChild) slot.firstChild.remove();
    var box = el("div", "confirm-box inline-confirm" + (danger ? " danger" : ""), { "data-testid": "confirm", role: "group" });
    var words = el("div", "confirm-words");
    var title = el("strong", "confirm-title");
    title.textContent = question;
    words.appendChild(title);
    detail.forEach(function (line) {
      var part = el("span", "muted");
      part.textContent = line;
      words.appendChild(part);
    });
    box.appendChild(words);
    var actions = el("div", "confirm-actions");
    var back = setText(el("button", "button small secondary", { type: "button", "data-action": "back" }), "admin.confirm.back");
    var go = setText(el("button", "button small " + (danger ? "danger-solid" : "primary"), { type: "button", "data-action": "confirm" }), confirmKey);
    actions.appendChild(back);
    actions.appendChild(go);
    box.appendChild(actions);
    slot.appendChild(box);
    slot.hidden = false;
    go.focus();
    return new Promise(function (resolve) {
      function close(result) {
        slot.hidden = true;
        while (slot.firstChild) slot.firstChild.remove();
        resolve(result);
      }
      back.addEventListener("click", function () { close(false); });
      box.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && !go.disabled) close(false);
      });
      go.addEventListener("click", function () {
        go.disabled = true;
        back.disabled = true;
        go.classList.add("working");
        action().then(function () { close(true); }, function (error) {
          close(false);
          onError(error);
        });
      });
    });
  }

  // Asks for a reason in `slot` (a question, a reason field, "back" and a confirm button) and calls
  // action(reason), which returns a promise; a failure shows the server's message in place.
  function reasonInline(slot, question, confirmKey, action) {
    while (slot.firstChild) slot.firstChild.remove();
    var box = el("form", "confirm-box inline-confirm reason-confirm", { "data-testid": "reason-confirm", novalidate: "" });
    var words = el("div", "confirm-words");
    var title = el("strong", "confirm-title");
    title.textContent = question;
    words.appendChild(title);
    var input = el("input", "", { type: "text", maxlength: "500", autocomplete: "off", "data-testid": "reason-input" });
    P.setAttr(input, "placeholder", "admin.reason");
    P.setAttr(input, "aria-label", "admin.reason");
    words.appendChild(input);
    var error = el("p", "alert alert-error form-error", { role: "alert", "data-testid": "reason-error" });
    error.hidden = true;
    words.appendChild(error);
    box.appendChild(words);
    var actions = el("div", "confirm-actions");
    var back = setText(el("button", "button small secondary", { type: "button", "data-action": "back" }), "admin.confirm.back");
    var go = setText(el("button", "button small danger-solid", { type: "submit", "data-action": "confirm" }), confirmKey);
    actions.appendChild(back);
    actions.appendChild(go);
    box.appendChild(actions);
    slot.appendChild(box);
    slot.hidden = false;
    input.focus();
    function close() {
      slot.hidden = true;
      while (slot.firstChild) slot.firstChild.remove();
    }
    back.addEventListener("click", close);
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      var reason = input.value.trim();
      if (!reason) {
        P.showInline(error, P.t("admin.reason_required"));
        input.focus();
        return;
      }
      go.disabled = back.disabled = true;
      action(reason).then(close, function (failure) {
        go.disabled = back.disabled = false;
        P.showInline(error, failure && failure.message ? failure.message : P.t("error.network"));
      });
    });
  }

  // Locks a form's fields while its confirmation is open, so what is confirmed is what is sent.
  function lockForm(form, locked) {
    Array.prototype.forEach.call(form.querySelectorAll("input, textarea, select, button[type=submit]"), function (field) {
      field.disabled = locked;
    });
    form.classList.toggle("confirming", locked);
  }

  // ------------------------------------------------------------ Ledger rows

  var KINDS = ["grant", "deduct", "hold", "settle", "release", "redeem", "topup"];

  function amountCell(value, labelKey) {
    var cell = el("td", "num");
    cell.appendChild(setText(el("span", "cell-label"), labelKey));
    if (typeof value !== "number" || value === 0) {
      cell.classList.add("zero");
      cell.appendChild(el("span", "amount")).textContent = "·";
      return cell;
    }
    cell.classList.add(value > 0 ? "credit" : "debit");
    cell.appendChild(signed(value));
    return cell;
  }

  function ledgerRow(entry) {
    var row = el("tr", "", { "data-id": entry.id, "data-kind": entry.kind, "data-testid": "ledger-row" });
    var when = el("td", "when");
    if (entry.created_at) when.appendChild(P.timeElement(entry.created_at));
    row.appendChild(when);
    var kind = el("td", "kind");
    var known = KINDS.indexOf(entry.kind) >= 0;
    var badge = el("span", "kind-badge kind-" + (known ? entry.kind : "other"));
    if (known) setText(badge, "ledger.kind." + entry.kind);
    else badge.textContent = String(entry.kind);
    kind.appendChild(badge);
    row.appendChild(kind);
    row.appendChild(amountCell(entry.amount, "credits.col.amount"));
    row.appendChild(amountCell(entry.held_change, "credits.col.held"));
    var note = el("td", "note");
    if (entry.video_id) {
      var video = el("code", "video-id", { title: entry.video_id });
      video.textContent = String(entry.video_id).slice(0, 8);
      note.appendChild(setText(el("span", "cell-label"), "credits.video"));
      note.appendChild(video);
      if (entry.reason) note.appendChild(document.createTextNode(" · "));
    }
    if (entry.reason) note.appendChild(document.createTextNode(entry.reason));
    row.appendChild(note);
    return row;
  }

  // ------------------------------------------------------------ Audit rows

  // Action names as the server writes them ("credits.grant"), split on the dot: a table, not a built key.
  var ACTIONS = {
    credits: { grant: ["admin.action.grant", "grant"], deduct: ["admin.action.deduct", "deduct"] },
    account: { disable: ["admin.action.disable", "disable"], enable: ["admin.action.enable", "enable"] },
    price: { set: ["admin.action.price_set", "price"] },
    style: { create: ["admin.action.style_create", "style"], update: ["admin.action.style_update", "style"] },
    job: { reconcile: ["admin.action.job_reconcile", "job"] },
    queue: { limits: ["admin.action.queue_limits", "queue"] },
    payments_review: { credit: ["admin.action.review_credit", "grant"], attach: ["admin.action.review_attach", "grant"],
                       refunded: ["admin.action.review_refunded", "deduct"] },
    packages: { set: ["admin.action.package_set", "price"], disable: ["admin.action.package_disable", "disable"] },
    codes: { create: ["admin.action.codes_create", "grant"], disable: ["admin.action.codes_disable", "disable"] },
    model: {
      enable: ["admin.action.model_enable", "enable"], disable: ["admin.action.model_disable", "disable"],
      set_default: ["admin.action.model_set_default", "model"], set_price: ["admin.action.price_set", "price"],
      recheck: ["admin.action.model_recheck", "model"], "import": ["admin.action.model_import", "model"]
    }
  };

  var FIELDS = {
    credits_available: "admin.field.credits_available",
    // A model's price row and a package or code both name their credits: one word fits both.
    credits: "admin.field.credits",
    disabled: "admin.field.access",
    name_vi: "admin.field.name_vi",
    name_en: "admin.field.name_en",
    prompt_text: "admin.field.prompt_text",
    position: "admin.field.position",
    enabled: "admin.field.enabled",
    "default": "admin.field.default",
    duration: "admin.field.duration",
    resolution: "admin.field.resolution",
    audio: "admin.field.audio",
    available: "admin.field.available",
    creates_per_10s: "admin.field.creates_per_10s",
    max_running: "admin.field.max_running",
    amount_vnd: "admin.field.amount_vnd",
    sort_order: "admin.field.sort_order"
  };

  function actionOf(action) {
    var parts = String(action || "").split(".");
    if (parts.length === 3 && parts[0] === "payments" && parts[1] === "review") parts = ["payments_review", parts[2]];
    var group = Object.prototype.hasOwnProperty.call(ACTIONS, parts[0]) ? ACTIONS[parts[0]] : null;
    return group && parts.length === 2 && Object.prototype.hasOwnProperty.call(group, parts[1]) ? group[parts[1]] : null;
  }

  function value(field, raw) {
    var node;
    if (typeof raw === "number") return number(raw, "change-value");
    node = el("span", "change-value");
    if (typeof raw === "boolean") {
      if (field === "disabled") setText(node, raw ? "admin.value.disabled" : "admin.value.active");
      else if (field === "enabled") setText(node, raw ? "admin.value.on" : "admin.value.off");
      else setText(node, raw ? "admin.value.yes" : "admin.value.no");
      return node;
    }
    if (raw === null || raw === undefined) {
      node.classList.add("empty-value");
      node.textContent = "—";
      return node;
    }
    node.textContent = typeof raw === "string" ? raw : JSON.stringify(raw);
    node.title = node.textContent;
    return node;
  }

  // before → after, one line per field that either side names.
  function changeCell(before, after) {
    var cell = el("td", "change");
    before = before && typeof before === "object" ? before : {};
    after = after && typeof after === "object" ? after : {};
    var fields = Object.keys(after);
    Object.keys(before).forEach(function (field) { if (fields.indexOf(field) < 0) fields.push(field); });
    fields.forEach(function (field) {
      var line = el("div", "change-line", { "data-field": field });
      var label = el("span", "change-field");
      if (Object.prototype.hasOwnProperty.call(FIELDS, field)) setText(label, FIELDS[field]);
      else label.textContent = field;
      line.appendChild(label);
      var had = Object.prototype.hasOwnProperty.call(before, field);
      var has = Object.prototype.hasOwnProperty.call(after, field);
      if (had) line.appendChild(value(field, before[field])).classList.add("change-before");
      if (had && has) line.appendChild(el("span", "change-arrow", { "aria-hidden": "true" })).textContent = "→";
      if (has) line.appendChild(value(field, after[field])).classList.add("change-after");
      cell.appendChild(line);
    });
    return cell;
  }

  function actorNode(actor) {
    var text = String(actor || "");
    if (text.indexOf("cli:") === 0) {
      var code = el("code", "actor-cli");
      code.textContent = text;
      return setAttr(code, "title", "admin.audit.cli_hint");
    }
    var span = el("span", "actor");
    span.textContent = text;
    span.title = text;
    return span;
  }

  function setAttr(node, attribute, key) { return P.setAttr(node, attribute, key); }

  // One audit entry as a table row; options.target adds the target column (the audit page).
  function auditRow(entry, options) {
    options = options || {};
    var row = el("tr", "", { "data-id": entry.id, "data-action": entry.action, "data-testid": "audit-row" });
    var when = el("td", "when");
    if (entry.created_at) when.appendChild(P.timeElement(entry.created_at));
    row.appendChild(when);
    var who = el("td", "who");
    who.appendChild(actorNode(entry.actor));
    row.appendChild(who);
    var what = el("td", "what");
    var known = actionOf(entry.action);
    var badge = el("span", "action-badge action-" + (known ? known[1] : "other"));
    if (known) setText(badge, known[0]);
    else badge.textContent = String(entry.action);
    what.appendChild(badge);
    row.appendChild(what);
    if (options.target) {
      var target = el("td", "target");
      if (entry.target_user_id) {
        var link = el("a", "", { href: "/admin/user?id=" + encodeURIComponent(entry.target_user_id) });
        link.textContent = entry.target || entry.target_user_id;
        target.appendChild(link);
      } else if (/^model [\w.-]+$/.test(entry.target || "")) {
        var model = el("a", "", { href: "/admin/models#model-" + entry.target.slice(6) });
        model.textContent = entry.target;
        target.appendChild(model);
      } else if (entry.target) {
        target.appendChild(el("span", "")).textContent = entry.target;
      }
      row.appendChild(target);
    }
    row.appendChild(changeCell(entry.before, entry.after));
    var reason = el("td", "reason");
    if (entry.reason) {
      reason.appendChild(setText(el("span", "cell-label"), "admin.reason"));
      reason.appendChild(document.createTextNode(entry.reason));
    } else {
      reason.appendChild(el("span", "faint")).textContent = "—";
    }
    row.appendChild(reason);
    return row;
  }

  function clear(node) {
    while (node.firstChild) node.firstChild.remove();
    return node;
  }

  window.PhimAdmin = {
    api: api,
    parseAmount: parseAmount,
    number: number,
    marks: marks,
    confirmInline: confirmInline,
    reasonInline: reasonInline,
    lockForm: lockForm,
    ledgerRow: ledgerRow,
    auditRow: auditRow,
    clear: clear
  };
})();

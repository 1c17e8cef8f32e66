// Operators: redemption codes, made in batches (shown in full once, with the batch's CSV), listed
// with their uses, and disabled with a reason (both audited by the server).
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  var form = document.getElementById("batch-form");
  var credits = document.getElementById("batch-credits");
  var count = document.getElementById("batch-count");
  var expires = document.getElementById("batch-expires");
  var uses = document.getElementById("batch-uses");
  var label = document.getElementById("batch-label");
  var reason = document.getElementById("batch-reason");
  var error = document.getElementById("batch-error");
  var submit = document.getElementById("batch-submit");
  var slot = document.getElementById("disable-slot");
  var last = null;

  function csvLink(batch) {
    return "/api/v1/admin/codes.csv" + (batch ? "?batch=" + encodeURIComponent(batch) : "");
  }

  function cell(className, labelKey) {
    var td = el("td", className || "");
    if (labelKey) td.appendChild(setText(el("span", "cell-label"), labelKey));
    return td;
  }

  function stateOf(code) {
    if (code.disabled_at) return ["admin.codes.state.disabled", "badge-failed"];
    if (code.expires_at && Date.parse(code.expires_at) <= Date.now()) return ["admin.codes.state.expired", "badge-canceled"];
    if (code.used_count >= code.max_uses) return ["admin.codes.state.used", "badge-canceled"];
    return ["admin.codes.state.active", "badge-completed"];
  }

  function render(list) {
    last = list;
    var rows = A.clear(document.getElementById("code-rows"));
    list.forEach(function (code) {
      var tr = el("tr", "", { "data-id": code.id, "data-batch": code.batch_id, "data-testid": "code-row" });
      var text = cell("code-text");
      text.appendChild(el("code", "", { "data-testid": "code-value" })).textContent = code.code;
      tr.appendChild(text);
      tr.appendChild(cell("num", "admin.codes.col.credits")).appendChild(A.number(Number(code.credits) || 0));
      tr.appendChild(cell("num", "admin.codes.col.uses")).appendChild(setText(el("span", ""), "admin.codes.uses",
        { used: Number(code.used_count) || 0, max: Number(code.max_uses) || 0 }));
      var expiry = cell("when");
      if (code.expires_at) expiry.appendChild(P.timeElement(code.expires_at));
      else setText(expiry.appendChild(el("span", "faint")), "admin.codes.never");
      tr.appendChild(expiry);
      var batch = cell("note");
      var link = el("a", "", { href: csvLink(code.batch_id), download: "phim-codes.csv", "data-testid": "batch-csv" });
      link.textContent = code.label ? code.label : String(code.batch_id).slice(0, 8);
      link.title = code.batch_id;
      batch.appendChild(link);
      tr.appendChild(batch);
      var state = stateOf(code);
      tr.appendChild(cell("")).appendChild(setText(el("span", "badge " + state[1], { "data-testid": "code-state" }), state[0]));
      var actions = cell("num row-actions");
      if (!code.disabled_at) {
        var off = setText(el("button", "button small ghost danger", { type: "button", "data-action": "disable" }), "admin.codes.disable");
        off.addEventListener("click", function () {
          A.reasonInline(slot, t("admin.codes.disable_question", { code: code.code }), "admin.codes.disable", function (why) {
            return A.api("POST", "/codes/" + encodeURIComponent(code.id) + "/disable", { body: { reason: why } }).then(function () {
              P.toast("success", t("admin.codes.disabled", { code: code.code }));
              return load();
            });
          });
          slot.scrollIntoView({ block: "nearest" });
        });
        actions.appendChild(off);
      }
      tr.appendChild(actions);
      rows.appendChild(tr);
    });
    document.getElementById("codes-loading").hidden = true;
    document.getElementById("codes-wrap").hidden = list.length === 0;
    document.getElementById("codes-empty").hidden = list.length > 0;
  }

  function load() {
    return A.api("GET", "/codes?limit=500").then(function (answer) { render((answer && answer.data) || []); });
  }

  function whole(input) {
    var digits = input.value.replace(/[\s.,_]/g, "");
    return /^\d{1,9}$/.test(digits) ? Number(digits) : null;
  }

  [credits, count, expires, uses, label, reason].forEach(function (input) {
    input.addEventListener("input", function () { P.showInline(error, ""); });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = { credits: A.parseAmount(credits.value), count: whole(count), max_uses: whole(uses), reason: reason.value.trim() };
    var problem = null;
    if (body.credits === null) problem = [credits, "admin.codes.credits_invalid"];
    else if (!body.count) problem = [count, "admin.codes.count_invalid"];
    else if (!body.max_uses) problem = [uses, "admin.codes.uses_invalid"];
    else if (!body.reason) problem = [reason, "admin.reason_required"];
    if (problem) {
      P.showInline(error, t(problem[1]));
      problem[0].focus();
      return;
    }
    // A date means the end of that day in Vietnam.
    if (expires.value) body.expires_at = expires.value + "T23:59:59+07:00";
    if (label.value.trim()) body.label = label.value.trim();
    submit.disabled = true;
    A.api("POST", "/codes", { body: body }).then(function (batch) {
      var made = (batch && batch.data) || [];
      document.getElementById("new-codes-list").textContent = made.map(function (code) { return code.code; }).join("\n");
      document.getElementById("new-codes-csv").setAttribute("href", csvLink(batch && batch.batch_id));
      document.getElementById("new-codes").hidden = false;
      document.getElementById("new-codes").dataset.batch = (batch && batch.batch_id) || "";
      P.toast("success", t("admin.codes.created", { count: made.length }));
      reason.value = "";
      return load();
    }, function (failure) {
      P.showInline(error, failure.message || t("error.network"));
    }).then(function () { submit.disabled = false; });
  });

  document.getElementById("new-codes-copy").addEventListener("click", function () {
    var text = document.getElementById("new-codes-list").textContent;
    var copying = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(text) : Promise.reject(new Error("copy"));
    copying.then(function () { P.toast("success", t("admin.codes.copied")); }, function () {
      var range = document.createRange();
      range.selectNodeContents(document.getElementById("new-codes-list"));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      P.toast("info", t("topup.copy_failed"));
    });
  });
  document.getElementById("new-codes-close").addEventListener("click", function () {
    document.getElementById("new-codes").hidden = true;
    A.clear(document.getElementById("new-codes-list"));
  });

  P.onLanguage(function () { if (last) render(last); });

  P.start({ admin: true, page: "admin" }).then(load).catch(P.showError);
})();

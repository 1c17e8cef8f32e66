// Operators: the credit packages people can buy (price in VND, credits, names in both languages),
// created or changed with a reason and disabled with one (both audited by the server).
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  var form = document.getElementById("package-form");
  var fields = {
    id: document.getElementById("package-id"),
    name_vi: document.getElementById("package-name-vi"),
    name_en: document.getElementById("package-name-en"),
    amount_vnd: document.getElementById("package-price"),
    credits: document.getElementById("package-credits"),
    sort_order: document.getElementById("package-order"),
    reason: document.getElementById("package-reason")
  };
  var enabled = document.getElementById("package-enabled");
  var error = document.getElementById("package-error");
  var submit = document.getElementById("package-submit");
  var slot = document.getElementById("disable-slot");
  var last = [];

  function cell(className, labelKey) {
    var td = el("td", className || "");
    if (labelKey) td.appendChild(setText(el("span", "cell-label"), labelKey));
    return td;
  }

  function edit(item) {
    fields.id.value = item.id;
    fields.name_vi.value = item.name_vi || "";
    fields.name_en.value = item.name_en || "";
    fields.amount_vnd.value = String(item.amount_vnd);
    fields.credits.value = String(item.credits);
    fields.sort_order.value = item.sort_order == null ? "" : String(item.sort_order);
    enabled.checked = item.enabled !== false;
    fields.reason.value = "";
    P.showInline(error, "");
    fields.reason.focus();
    form.scrollIntoView({ block: "nearest" });
  }

  function render(list) {
    last = list;
    var rows = A.clear(document.getElementById("packages-rows"));
    list.forEach(function (item) {
      var tr = el("tr", item.enabled === false ? "off" : "", { "data-id": item.id, "data-testid": "package-row" });
      var id = cell("id-cell");
      id.appendChild(el("code", "")).textContent = item.id;
      tr.appendChild(id);
      var name = cell("name-cell");
      name.textContent = (P.language() === "en" ? item.name_en : item.name_vi) || item.id;
      tr.appendChild(name);
      var price = cell("num", "admin.packages.col.price");
      price.appendChild(setText(el("span", ""), "topup.vnd", { amount: Number(item.amount_vnd) || 0 }));
      tr.appendChild(price);
      var credits = cell("num", "admin.packages.col.credits");
      credits.appendChild(A.number(Number(item.credits) || 0));
      tr.appendChild(credits);
      var state = cell("");
      state.appendChild(setText(el("span", "badge " + (item.enabled === false ? "badge-canceled" : "badge-completed")),
                                item.enabled === false ? "admin.value.off" : "admin.value.on"));
      tr.appendChild(state);
      var order = cell("num", "admin.field.sort_order");
      order.appendChild(A.number(Number(item.sort_order) || 0));
      tr.appendChild(order);
      var actions = cell("num row-actions");
      var change = setText(el("button", "button small secondary", { type: "button", "data-action": "edit" }), "admin.packages.edit");
      change.addEventListener("click", function () { edit(item); });
      actions.appendChild(change);
      if (item.enabled !== false) {
        var off = setText(el("button", "button small ghost danger", { type: "button", "data-action": "disable" }), "admin.packages.disable");
        off.addEventListener("click", function () {
          A.reasonInline(slot, t("admin.packages.disable_question", { id: item.id }), "admin.packages.disable", function (reason) {
            return A.api("POST", "/packages/" + encodeURIComponent(item.id) + "/disable", { body: { reason: reason } }).then(function () {
              P.toast("success", t("admin.packages.disabled", { id: item.id }));
              return load();
            });
          });
        });
        actions.appendChild(off);
      }
      tr.appendChild(actions);
      rows.appendChild(tr);
    });
    document.getElementById("packages-loading").hidden = true;
    document.getElementById("packages-wrap").hidden = list.length === 0;
    document.getElementById("packages-empty").hidden = list.length > 0;
  }

  function load() {
    return A.api("GET", "/packages").then(function (answer) { render((answer && answer.data) || []); });
  }

  Object.keys(fields).forEach(function (name) { fields[name].addEventListener("input", function () { P.showInline(error, ""); }); });

  document.getElementById("package-clear").addEventListener("click", function () {
    form.reset();
    P.showInline(error, "");
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var id = fields.id.value.trim().toLowerCase();
    var amount = A.parseAmount(fields.amount_vnd.value);
    var credits = A.parseAmount(fields.credits.value);
    var problem = null;
    if (!/^[a-z0-9-]{1,32}$/.test(id)) problem = [fields.id, "admin.packages.id_invalid"];
    else if (!fields.name_vi.value.trim() || !fields.name_en.value.trim()) problem = [fields.name_vi.value.trim() ? fields.name_en : fields.name_vi, "admin.packages.name_required"];
    else if (amount === null) problem = [fields.amount_vnd, "admin.packages.amount_invalid"];
    else if (credits === null) problem = [fields.credits, "admin.packages.amount_invalid"];
    else if (!fields.reason.value.trim()) problem = [fields.reason, "admin.reason_required"];
    if (problem) {
      P.showInline(error, t(problem[1]));
      problem[0].focus();
      return;
    }
    var body = { name_vi: fields.name_vi.value.trim(), name_en: fields.name_en.value.trim(), amount_vnd: amount, credits: credits,
                 enabled: enabled.checked, reason: fields.reason.value.trim() };
    var order = fields.sort_order.value.trim();
    if (order !== "") {
      if (!/^-?\d{1,6}$/.test(order)) {
        P.showInline(error, t("admin.packages.order_invalid"));
        fields.sort_order.focus();
        return;
      }
      body.sort_order = Number(order);
    }
    submit.disabled = true;
    A.api("PUT", "/packages/" + encodeURIComponent(id), { body: body }).then(function () {
      P.toast("success", t("admin.packages.saved", { id: id }));
      form.reset();
      return load();
    }, function (failure) {
      P.showInline(error, failure.message || t("error.network"));
    }).then(function () { submit.disabled = false; });
  });

  P.onLanguage(function () { if (last.length) render(last); });

  P.start({ admin: true, page: "admin" }).then(load).catch(P.showError);
})();

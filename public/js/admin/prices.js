// Operators: the price table; a price is changed with a reason and applies to videos created afterwards.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  // The studio's names for the models (its tiers), and their order there.
  var TIERS = {
    "sora-2-text-to-video": ["tier.standard", 0], "sora-2-image-to-video": ["tier.standard", 0],
    "sora-2-text-to-video-stable": ["tier.stable", 1], "sora-2-image-to-video-stable": ["tier.stable", 1],
    "sora-2-pro-text-to-video": ["tier.pro", 2], "sora-2-pro-image-to-video": ["tier.pro", 2]
  };
  var MODES = { text_to_video: "mode.text_to_video", image_to_video: "mode.image_to_video" };
  var QUALITIES = { standard: "admin.quality.standard", high: "admin.quality.high" };

  var rows = document.getElementById("prices-rows");
  var openEditor = null;

  function tierKey(row) {
    var tier = TIERS[row.model];
    if (!tier) return null;
    return tier[0] === "tier.pro" && row.quality === "high" ? "tier.pro_high" : tier[0];
  }

  function order(row) {
    var tier = TIERS[row.model] ? TIERS[row.model][1] : 9;
    return [row.mode === "text_to_video" ? 0 : 1, tier, row.quality === "high" ? 1 : 0, Number(row.duration)];
  }

  function compare(a, b) {
    var x = order(a), y = order(b);
    for (var i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return a.model < b.model ? -1 : a.model > b.model ? 1 : 0;
  }

  // "Pro 1080p · Text → video · 10 seconds": how the confirmation names a row.
  function describe(row) {
    var parts = [];
    var tier = tierKey(row);
    parts.push(tier ? t(tier) : row.model);
    if (MODES[row.mode]) parts.push(t(MODES[row.mode]));
    parts.push(t("duration.seconds", { seconds: Number(row.duration) }));
    return parts.join(" · ");
  }

  function rowKey(row) {
    return row.model + "|" + row.duration + "|" + row.quality;
  }

  function cell(labelKey, className) {
    var node = el("td", className || "");
    node.appendChild(setText(el("span", "cell-label"), labelKey));
    return node;
  }

  function renderRow(row) {
    var tr = el("tr", "", { "data-key": rowKey(row), "data-model": row.model, "data-duration": String(row.duration),
                            "data-quality": row.quality, "data-testid": "price-row" });
    var model = el("td", "model");
    var tier = tierKey(row);
    var name = el("strong", "model-name");
    if (tier) setText(name, tier);
    else name.textContent = row.model;
    model.appendChild(name);
    var code = el("code", "model-id");
    code.textContent = row.model;
    model.appendChild(code);
    // The other columns in one line, shown instead of them on a phone.
    var specs = el("span", "specs model-specs");
    specs.appendChild(MODES[row.mode] ? setText(el("span", ""), MODES[row.mode]) : el("span", ""));
    specs.appendChild(setText(el("span", ""), "duration.seconds", { seconds: Number(row.duration) }));
    specs.appendChild(QUALITIES[row.quality] ? setText(el("span", ""), QUALITIES[row.quality]) : el("span", ""));
    model.appendChild(specs);
    tr.appendChild(model);

    var mode = cell("admin.col.mode", "mode");
    if (MODES[row.mode]) mode.appendChild(setText(el("span", ""), MODES[row.mode]));
    else mode.appendChild(el("span", "")).textContent = row.mode;
    tr.appendChild(mode);

    var duration = cell("admin.col.duration", "duration");
    duration.appendChild(setText(el("span", ""), "duration.seconds", { seconds: Number(row.duration) }));
    tr.appendChild(duration);

    var quality = cell("admin.col.quality", "quality");
    if (QUALITIES[row.quality]) quality.appendChild(setText(el("span", ""), QUALITIES[row.quality]));
    else quality.appendChild(el("span", "")).textContent = row.quality;
    tr.appendChild(quality);

    var price = el("td", "num price-cell");
    price.appendChild(A.number(row.credits, "price-value"));
    tr.appendChild(price);

    var actions = el("td", "num actions");
    var edit = setText(el("button", "button small secondary", { type: "button", "data-action": "edit" }), "admin.prices.edit");
    edit.addEventListener("click", function () { openEdit(row, tr); });
    actions.appendChild(edit);
    tr.appendChild(actions);
    return tr;
  }

  function closeEdit() {
    if (!openEditor) return;
    openEditor.editor.remove();
    openEditor.row.classList.remove("editing");
    var edit = openEditor.row.querySelector('[data-action="edit"]');
    edit.hidden = false;
    openEditor = null;
  }

  function openEdit(row, tr) {
    closeEdit();
    var editor = el("tr", "edit-tr", { "data-testid": "price-editor" });
    var td = el("td", "", { colspan: "6" });
    var form = el("form", "admin-form price-form", { method: "post", action: "/admin/prices", novalidate: "" });
    var title = el("strong", "price-form-title");
    title.textContent = describe(row);
    form.appendChild(title);

    var fields = el("div", "price-fields");
    var priceField = el("div", "field price-field");
    var priceId = "price-new";
    priceField.appendChild(setText(el("label", "", { "for": priceId }), "admin.prices.new_price"));
    var input = el("input", "", { type: "text", id: priceId, inputmode: "numeric", autocomplete: "off", maxlength: "15", "data-testid": "price-input" });
    input.value = String(row.credits);
    priceField.appendChild(input);
    fields.appendChild(priceField);
    var reasonField = el("div", "field reason-field");
    reasonField.appendChild(setText(el("label", "", { "for": "price-reason" }), "admin.reason"));
    var reason = el("input", "", { type: "text", id: "price-reason", maxlength: "500", autocomplete: "off", "data-testid": "price-reason" });
    P.setAttr(reason, "placeholder", "admin.prices.reason_placeholder");
    reasonField.appendChild(reason);
    fields.appendChild(reasonField);
    var buttons = el("div", "form-actions");
    var cancel = setText(el("button", "button secondary", { type: "button", "data-action": "cancel" }), "admin.cancel");
    var save = setText(el("button", "button primary", { type: "submit", "data-action": "save" }), "admin.prices.save");
    buttons.appendChild(cancel);
    buttons.appendChild(save);
    fields.appendChild(buttons);
    form.appendChild(fields);
    var error = el("p", "alert alert-error form-error", { role: "alert", "data-testid": "price-error", hidden: "" });
    form.appendChild(error);
    var slot = el("div", "confirm-slot", { hidden: "" });
    form.appendChild(slot);
    td.appendChild(form);
    editor.appendChild(td);
    tr.after(editor);
    tr.classList.add("editing");
    tr.querySelector('[data-action="edit"]').hidden = true;
    openEditor = { row: tr, editor: editor };
    input.focus();
    input.select();

    cancel.addEventListener("click", function () {
      closeEdit();
      tr.querySelector('[data-action="edit"]').focus();
    });
    [input, reason].forEach(function (field) { field.addEventListener("input", function () { P.showInline(error, ""); }); });
    editor.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !form.classList.contains("confirming")) cancel.click();
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.classList.contains("confirming")) return;
      var credits = A.parseAmount(input.value);
      var why = reason.value.trim();
      if (credits === null) {
        P.showInline(error, t("admin.prices.invalid"));
        input.focus();
        return;
      }
      if (credits === row.credits) {
        P.showInline(error, t("admin.prices.unchanged"));
        input.focus();
        return;
      }
      if (!why) {
        P.showInline(error, t("admin.reason_required"));
        reason.focus();
        return;
      }
      P.showInline(error, "");
      A.lockForm(form, true);
      cancel.disabled = true;
      A.confirmInline(slot, t("admin.prices.confirm", { before: row.credits, after: credits }),
        [describe(row), t("admin.prices.confirm_detail"), t("admin.confirm.reason", { reason: why })],
        "admin.prices.confirm_button", false,
        function () {
          return A.api("PUT", "/prices", { body: { model: row.model, duration: Number(row.duration), quality: row.quality, credits: credits, reason: why } })
            .then(function (saved) { row.credits = saved && typeof saved.credits === "number" ? saved.credits : credits; });
        },
        function (failure) { P.showInline(error, failure.message); }
      ).then(function (done) {
        A.lockForm(form, false);
        cancel.disabled = false;
        if (!done) return;
        closeEdit();
        var fresh = renderRow(row);
        fresh.classList.add("changed");
        tr.replaceWith(fresh);
        P.toast("success", t("admin.prices.saved", { what: describe(row), amount: row.credits }));
        fresh.querySelector('[data-action="edit"]').focus();
      });
    });
  }

  P.start({ admin: true, page: "admin" }).then(function () {
    return A.api("GET", "/prices").then(function (answer) {
      var list = ((answer && answer.prices) || []).slice().sort(compare);
      A.clear(rows);
      list.forEach(function (row) { rows.appendChild(renderRow(row)); });
      document.getElementById("prices-loading").hidden = true;
      document.getElementById("prices-wrap").hidden = false;
      document.getElementById("prices-demo").hidden = !(answer && answer.demo);
    });
  }).catch(P.showError);
})();

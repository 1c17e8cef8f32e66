// Operators: the model catalog. Each offered model with its provider ids, options, availability and
// price rows (Phim's price beside Kie's list price); enable, disable, make default, try a paused model
// again and change a price, each with a reason. Retired models are listed apart, read-only.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  var MODES = { text_to_video: "mode.text_to_video", image_to_video: "mode.image_to_video" };
  var SOUND = { optional: "model.sound_optional", always: "model.sound_always", none: "model.sound_none" };
  var FAMILIES = { market: "admin.models.family_market", veo: "admin.models.family_veo" };
  // The model actions: the API body, the question, what it does, the button and the toast.
  var CHANGES = {
    disable: { body: { enabled: false }, question: "admin.models.confirm_disable", effect: "admin.models.disable_effect",
               button: "admin.models.disable", done: "admin.models.disabled", danger: true },
    enable: { body: { enabled: true }, question: "admin.models.confirm_enable", effect: "admin.models.enable_effect",
              button: "admin.models.enable", done: "admin.models.enabled" },
    "default": { body: { "default": true }, question: "admin.models.confirm_default", effect: "admin.models.default_effect",
                 button: "admin.models.make_default", done: "admin.models.default_done" },
    recheck: { question: "admin.models.confirm_recheck", effect: "admin.models.recheck_effect",
               button: "admin.models.recheck", done: "admin.models.rechecked" }
  };

  var list = document.getElementById("models-list");
  var retiredRows = document.getElementById("retired-rows");
  var rate = 0;
  var catalog = [];
  var openPrices = {};   // model id -> its price table is open

  // ------------------------------------------------------------ Small pieces

  function mark(key, className, testid) {
    return setText(el("span", "mark " + className, testid ? { "data-testid": testid } : {}), key);
  }

  function dash() {
    var node = el("span", "faint");
    node.textContent = "—";
    return node;
  }

  function fact(labelKey, value, testid) {
    var row = el("div", "", testid ? { "data-testid": testid } : {});
    row.appendChild(setText(el("dt", ""), labelKey));
    var dd = el("dd", "");
    (Array.isArray(value) ? value : [value]).forEach(function (part) { dd.appendChild(part); });
    row.appendChild(dd);
    return row;
  }

  function text(value, className) {
    var node = el("span", className || "");
    node.textContent = value;
    return node;
  }

  function timeOrDash(iso) { return iso ? P.timeElement(iso) : dash(); }

  function nameOf(id) {
    var model = catalog.filter(function (m) { return m.id === id; })[0];
    return model ? model.name[P.language()] || model.name.vi : id;
  }

  function displayName(model) { return model.name[P.language()] || model.name.vi || model.id; }

  function sound(model, audio) {
    return setText(el("span", audio ? "sound-on" : "sound-off"), audio ? "card.sound_on" : "card.sound_off");
  }

  function priceKey(row) { return row.duration + "|" + row.resolution + "|" + row.audio; }

  // "10 giây · 720p · có âm thanh": how the confirmation names a price row.
  function describe(model, row) {
    return [displayName(model), t("duration.seconds", { seconds: Number(row.duration) }), row.resolution,
            t(row.audio ? "card.sound_on" : "card.sound_off")].join(" · ");
  }

  // ------------------------------------------------------------ One model

  function renderMarks(model) {
    var box = el("span", "marks");
    if (model["default"]) box.appendChild(mark("model.default", "mark-default", "mark-default"));
    box.appendChild(model.enabled ? mark("admin.models.enabled_mark", "mark-on", "mark-enabled") : mark("admin.models.disabled_mark", "mark-off", "mark-disabled"));
    if (model.available === false) box.appendChild(mark("model.paused", "mark-paused", "mark-paused"));
    var family = el("span", "mark mark-family", { "data-testid": "mark-family", "data-family": model.family });
    if (FAMILIES[model.family]) setText(family, FAMILIES[model.family]);
    else family.textContent = String(model.family);
    box.appendChild(family);
    return box;
  }

  function renderAvailability(model) {
    var box = el("div", "alert alert-error model-paused", { role: "status", "data-testid": "model-availability" });
    var words = el("div", "alert-text");
    var since = el("p", "");
    since.appendChild(setText(el("strong", ""), "admin.models.paused_since"));
    since.appendChild(document.createTextNode(" "));
    since.appendChild(timeOrDash(model.unavailable_since));
    words.appendChild(since);
    if (model.unavailable_reason) {
      var reason = el("p", "paused-reason", { "data-testid": "model-unavailable-reason" });
      reason.textContent = model.unavailable_reason;
      words.appendChild(reason);
    }
    var again = el("p", "muted");
    again.appendChild(setText(el("span", ""), "admin.models.recheck_at"));
    again.appendChild(document.createTextNode(" "));
    again.appendChild(timeOrDash(model.recheck_at));
    words.appendChild(again);
    box.appendChild(words);
    box.appendChild(setText(el("button", "button small secondary", { type: "button", "data-action": "recheck", "data-testid": "model-recheck" }),
                            "admin.models.recheck"));
    return box;
  }

  function renderFacts(model) {
    var facts = el("dl", "facts model-facts");
    var ids = el("span", "provider-ids");
    (model.modes || []).forEach(function (mode) {
      var line = el("span", "provider-id");
      if (MODES[mode]) line.appendChild(setText(el("span", "muted"), MODES[mode]));
      else line.appendChild(text(mode, "muted"));
      line.appendChild(text((model.provider_models || {})[mode] || "", "code"));
      ids.appendChild(line);
    });
    facts.appendChild(fact("admin.models.provider_ids", ids, "model-provider-ids"));
    facts.appendChild(fact("admin.col.duration", setText(el("span", ""), "model.durations", { list: (model.durations || []).join(" · ") })));
    facts.appendChild(fact("composer.aspect", text((model.aspect_ratios || []).join(" · "))));
    facts.appendChild(fact("composer.resolution", text((model.resolutions || []).join(" · "))));
    facts.appendChild(fact("composer.audio", setText(el("span", ""), SOUND[model.audio] || "model.sound_none")));
    facts.appendChild(fact("admin.models.typical", setText(el("span", ""), "admin.models.typical_value",
      { time: Math.floor(model.typical_seconds / 60) + ":" + String(model.typical_seconds % 60).padStart(2, "0") })));
    facts.appendChild(fact("admin.models.last_accepted", timeOrDash(model.last_accepted_at)));
    var refused = [timeOrDash(model.last_refused_at)];
    if (model.last_refusal) refused.push(text(model.last_refusal, "last-refusal"));
    facts.appendChild(fact("admin.models.last_refused", refused));
    return facts;
  }

  function priceRow(model, row) {
    var tr = el("tr", "", { "data-key": priceKey(row), "data-duration": String(row.duration), "data-resolution": row.resolution,
                            "data-audio": String(row.audio), "data-testid": "price-row" });
    var duration = el("td", "duration");
    duration.appendChild(setText(el("span", ""), "duration.seconds", { seconds: Number(row.duration) }));
    tr.appendChild(duration);
    tr.appendChild(el("td", "resolution")).appendChild(text(row.resolution));
    tr.appendChild(el("td", "sound")).appendChild(sound(model, row.audio));
    var price = el("td", "num price-cell");
    price.appendChild(A.number(row.credits, "price-value"));
    tr.appendChild(price);
    var kie = el("td", "num kie-cell", { "data-testid": "kie-price" });
    if (typeof row.provider_credits === "number") {
      kie.appendChild(setText(el("span", "kie-credits"), "admin.models.kie_credits", { amount: row.provider_credits }));
      if (rate > 0) kie.appendChild(setText(el("span", "kie-cost muted"), "admin.models.kie_cost", { amount: Math.round(row.provider_credits * rate) }));
    } else {
      kie.appendChild(dash());
    }
    tr.appendChild(kie);
    var actions = el("td", "num actions");
    if (!model.retired) {
      actions.appendChild(setText(el("button", "button small secondary", { type: "button", "data-action": "edit-price" }), "admin.models.edit_price"));
    }
    tr.appendChild(actions);
    return tr;
  }

  function renderPrices(model) {
    var details = el("details", "model-prices", { "data-testid": "model-prices" });
    if (openPrices[model.id]) details.open = true;
    details.addEventListener("toggle", function () { openPrices[model.id] = details.open; });
    var summary = el("summary", "");
    var credits = (model.prices || []).map(function (row) { return row.credits; });
    var low = Math.min.apply(null, credits), high = Math.max.apply(null, credits);
    if (low === high) setText(summary, "admin.models.prices_summary_one", { count: credits.length, amount: low });
    else setText(summary, "admin.models.prices_summary", { count: credits.length, from: low, to: high });
    details.appendChild(summary);
    var wrap = el("div", "table-wrap");
    var table = el("table", "ledger model-price-table stack-table");
    var head = el("thead", "");
    var tr = el("tr", "");
    [["admin.col.duration", null], ["composer.resolution", null], ["composer.audio", null], ["admin.col.price", "num"], ["admin.models.col_kie", "num"]].forEach(function (column) {
      tr.appendChild(setText(el("th", column[1], { scope: "col" }), column[0]));
    });
    tr.appendChild(el("th", "num", { scope: "col" })).appendChild(setText(el("span", "visually-hidden"), "admin.col.actions"));
    head.appendChild(tr);
    table.appendChild(head);
    var body = el("tbody", "");
    (model.prices || []).forEach(function (row) { body.appendChild(priceRow(model, row)); });
    table.appendChild(body);
    wrap.appendChild(table);
    details.appendChild(wrap);
    return details;
  }

  function renderModel(model) {
    var panel = el("section", "panel model-panel" + (model.enabled ? "" : " switched-off"), {
      id: "model-" + model.id, "data-model": model.id, "data-testid": "model-panel", "data-enabled": String(model.enabled),
      "data-default": String(!!model["default"]), "data-available": String(model.available !== false)
    });
    var head = el("div", "model-head");
    var title = el("div", "model-title");
    var name = el("h2", "model-name", { "data-testid": "model-name" });
    name.textContent = model.name.vi;
    title.appendChild(name);
    if (model.name.en && model.name.en !== model.name.vi) title.appendChild(text(model.name.en, "model-name-en muted"));
    title.appendChild(text(model.id, "code model-code"));
    title.appendChild(renderMarks(model));
    head.appendChild(title);
    var actions = el("div", "row-actions model-actions");
    if (model.enabled && !model["default"]) actions.appendChild(setText(el("button", "button small secondary", { type: "button", "data-action": "default" }), "admin.models.make_default"));
    if (model.enabled) actions.appendChild(setText(el("button", "button small ghost danger", { type: "button", "data-action": "disable" }), "admin.models.disable"));
    else actions.appendChild(setText(el("button", "button small primary", { type: "button", "data-action": "enable" }), "admin.models.enable"));
    head.appendChild(actions);
    panel.appendChild(head);
    var slot = el("div", "model-slot", { "data-testid": "model-slot" });
    slot.hidden = true;
    panel.appendChild(slot);

    var about = el("div", "model-about");
    about.appendChild(text(model.description.vi || "", "model-description"));
    if (model.description.en && model.description.en !== model.description.vi) about.appendChild(text(model.description.en, "model-description-en faint"));
    panel.appendChild(about);
    if (model.available === false) panel.appendChild(renderAvailability(model));
    panel.appendChild(renderFacts(model));
    panel.appendChild(renderPrices(model));
    return panel;
  }

  // ------------------------------------------------------------ Changes

  // Enable, disable, make default or try again: a reason, then the API; the server's refusal is shown here.
  function askChange(model, panel, action) {
    var change = CHANGES[action];
    var slot = panel.querySelector(".model-slot");
    A.clear(slot);
    var form = el("form", "admin-form model-change inline-confirm" + (change.danger ? " danger" : ""), { method: "post", action: "/admin/models", novalidate: "", "data-testid": "model-change", "data-change": action });
    var words = el("div", "confirm-words");
    words.appendChild(setText(el("strong", "confirm-title"), change.question, { name: displayName(model) }));
    words.appendChild(setText(el("span", "muted"), change.effect));
    form.appendChild(words);
    var field = el("div", "field");
    var id = "change-reason-" + model.id;
    field.appendChild(setText(el("label", "", { "for": id }), "admin.reason"));
    var reason = el("input", "", { type: "text", id: id, maxlength: "500", autocomplete: "off", "data-testid": "change-reason" });
    P.setAttr(reason, "placeholder", "admin.models.reason_placeholder");
    field.appendChild(reason);
    form.appendChild(field);
    var error = el("p", "alert alert-error form-error", { role: "alert", "data-testid": "change-error", hidden: "" });
    form.appendChild(error);
    var buttons = el("div", "form-actions");
    var back = setText(el("button", "button small secondary", { type: "button", "data-action": "back" }), "admin.confirm.back");
    var go = setText(el("button", "button small " + (change.danger ? "danger-solid" : "primary"), { type: "submit", "data-action": "confirm" }), change.button);
    buttons.appendChild(back);
    buttons.appendChild(go);
    form.appendChild(buttons);
    slot.appendChild(form);
    slot.hidden = false;
    reason.focus();

    function close() {
      A.clear(slot);
      slot.hidden = true;
      var again = panel.querySelector('[data-action="' + action + '"]');
      if (again) again.focus();
    }
    back.addEventListener("click", close);
    form.addEventListener("keydown", function (event) { if (event.key === "Escape" && !go.disabled) close(); });
    reason.addEventListener("input", function () { P.showInline(error, ""); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var why = reason.value.trim();
      if (!why) {
        P.showInline(error, t("admin.reason_required"));
        reason.focus();
        return;
      }
      P.showInline(error, "");
      go.disabled = back.disabled = reason.disabled = true;
      go.classList.add("working");
      var path = "/models/" + encodeURIComponent(model.id);
      var call = action === "recheck" ? A.api("POST", path + "/recheck", { body: { reason: why } })
        : A.api("PUT", path, { body: Object.assign({ reason: why }, change.body) });
      call.then(function () {
        P.toast("success", t(change.done, { name: displayName(model) }));
        return load(model.id);
      }, function (failure) {
        go.disabled = back.disabled = reason.disabled = false;
        go.classList.remove("working");
        P.showInline(error, failure.message);
      });
    });
  }

  var openEditor = null;

  function closeEdit() {
    if (!openEditor) return;
    openEditor.editor.remove();
    openEditor.row.classList.remove("editing");
    openEditor.row.querySelector('[data-action="edit-price"]').hidden = false;
    openEditor = null;
  }

  // A price row's editor: the new price and a reason, then an inline confirmation.
  function editPrice(model, row, tr) {
    closeEdit();
    var editor = el("tr", "edit-tr", { "data-testid": "price-editor" });
    var td = el("td", "", { colspan: "6" });
    var form = el("form", "admin-form price-form", { method: "post", action: "/admin/models", novalidate: "" });
    form.appendChild(text(describe(model, row), "price-form-title"));
    var fields = el("div", "price-fields");
    var priceField = el("div", "field price-field");
    priceField.appendChild(setText(el("label", "", { "for": "price-new" }), "admin.models.new_price"));
    var input = el("input", "", { type: "text", id: "price-new", inputmode: "numeric", autocomplete: "off", maxlength: "15", "data-testid": "price-input" });
    input.value = String(row.credits);
    priceField.appendChild(input);
    fields.appendChild(priceField);
    var reasonField = el("div", "field reason-field");
    reasonField.appendChild(setText(el("label", "", { "for": "price-reason" }), "admin.reason"));
    var reason = el("input", "", { type: "text", id: "price-reason", maxlength: "500", autocomplete: "off", "data-testid": "price-reason" });
    P.setAttr(reason, "placeholder", "admin.models.price_reason_placeholder");
    reasonField.appendChild(reason);
    fields.appendChild(reasonField);
    var buttons = el("div", "form-actions");
    var cancel = setText(el("button", "button secondary", { type: "button", "data-action": "cancel" }), "admin.cancel");
    var save = setText(el("button", "button primary", { type: "submit", "data-action": "save" }), "admin.models.save_price");
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
    tr.querySelector('[data-action="edit-price"]').hidden = true;
    openEditor = { row: tr, editor: editor };
    input.focus();
    input.select();

    cancel.addEventListener("click", function () {
      closeEdit();
      tr.querySelector('[data-action="edit-price"]').focus();
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
      if (credits === null) { P.showInline(error, t("admin.models.price_invalid")); input.focus(); return; }
      if (credits === row.credits) { P.showInline(error, t("admin.models.price_unchanged")); input.focus(); return; }
      if (!why) { P.showInline(error, t("admin.reason_required")); reason.focus(); return; }
      P.showInline(error, "");
      A.lockForm(form, true);
      cancel.disabled = true;
      var saved = null;
      A.confirmInline(slot, t("admin.models.price_confirm", { before: row.credits, after: credits }),
        [describe(model, row), t("admin.models.price_confirm_detail"), t("admin.confirm.reason", { reason: why })],
        "admin.models.price_confirm_button", false,
        function () {
          return A.api("PUT", "/models/" + encodeURIComponent(model.id) + "/prices",
            { body: { duration: Number(row.duration), resolution: row.resolution, audio: row.audio, credits: credits, reason: why } })
            .then(function (answer) { saved = answer; });
        },
        function (failure) { P.showInline(error, failure.message); }
      ).then(function (done) {
        A.lockForm(form, false);
        cancel.disabled = false;
        if (!done) return;
        openEditor = null;
        var fresh = replaceModel(saved || model);
        var changed = fresh.querySelector('[data-testid="price-row"][data-key="' + priceKey(row) + '"]');
        if (changed) {
          changed.classList.add("changed");
          changed.querySelector('[data-action="edit-price"]').focus();
        }
        P.toast("success", t("admin.models.price_saved", { what: describe(model, row), amount: credits }));
      });
    });
  }

  // Draws one model again from the server's answer, in place.
  function replaceModel(model) {
    catalog = catalog.map(function (m) { return m.id === model.id ? model : m; });
    var old = document.getElementById("model-" + model.id);
    var fresh = renderModel(model);
    if (old) old.replaceWith(fresh);
    return fresh;
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || !list.contains(button)) return;
    var panel = button.closest(".model-panel");
    var model = catalog.filter(function (m) { return m.id === panel.dataset.model; })[0];
    if (!model) return;
    var action = button.dataset.action;
    if (CHANGES[action]) askChange(model, panel, action);
    else if (action === "edit-price") {
      var tr = button.closest("tr");
      var row = (model.prices || []).filter(function (r) { return priceKey(r) === tr.dataset.key; })[0];
      if (row) editPrice(model, row, tr);
    }
  });

  // ------------------------------------------------------------ Retired models

  function renderRetired(model) {
    var tr = el("tr", "", { "data-model": model.id, "data-testid": "retired-row" });
    var name = el("td", "model");
    name.appendChild(text(displayName(model), "model-name"));
    name.appendChild(text(model.id, "model-id code"));
    tr.appendChild(name);
    var modes = el("td", "modes");
    (model.modes || []).forEach(function (mode) {
      if (MODES[mode]) modes.appendChild(setText(el("span", ""), MODES[mode]));
      else modes.appendChild(text(mode));
    });
    tr.appendChild(modes);
    var replaced = el("td", "replacements");
    replaced.appendChild(setText(el("span", "cell-label"), "admin.models.replacements"));
    replaced.appendChild(text((model.replacements || []).map(nameOf).join(", ") || "—"));
    tr.appendChild(replaced);
    var rows = el("td", "num");
    rows.appendChild(A.number((model.prices || []).length));
    tr.appendChild(rows);
    return tr;
  }

  // ------------------------------------------------------------ Loading

  // Reads the catalog and draws it; `focusId` keeps the operator at the model just changed.
  function load(focusId) {
    return A.api("GET", "/models").then(function (answer) {
      catalog = (answer && answer.models) || [];
      rate = Number(answer && answer.credits_per_provider_credit) || 0;
      openEditor = null;
      A.clear(list);
      catalog.filter(function (m) { return !m.retired; }).forEach(function (m) { list.appendChild(renderModel(m)); });
      A.clear(retiredRows);
      var retired = catalog.filter(function (m) { return m.retired; });
      retired.forEach(function (m) { retiredRows.appendChild(renderRetired(m)); });
      document.getElementById("retired-section").hidden = retired.length === 0;
      setText(document.getElementById("models-rate"), "admin.models.rate",
        { rate: rate, minutes: Number(answer && answer.recheck_minutes) || 0 });
      document.getElementById("models-loading").hidden = true;
      var focus = focusId && document.getElementById("model-" + focusId);
      if (focus) {
        focus.classList.add("changed");
        focus.scrollIntoView({ block: "nearest" });
      }
    });
  }

  P.onLanguage(function () {
    if (catalog.length) load().catch(P.showError);
  });

  P.start({ admin: true, page: "admin" }).then(function () {
    P.api("GET", "/models").then(function (answer) {
      document.getElementById("models-demo").hidden = !(answer && answer.demo);
    }, function () {});
    return load().then(function () {
      var match = /^#model-(.+)$/.exec(window.location.hash);
      var target = match && document.getElementById("model-" + decodeURIComponent(match[1]));
      if (target) target.scrollIntoView({ block: "start" });
    });
  }).catch(P.showError);
})();

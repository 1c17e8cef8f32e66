// Operators: the style presets the studio shows as chips above the prompt: edit one, add one,
// switch one on or off (the studio shows the switched-on ones, by position).
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  var rows = document.getElementById("styles-rows");
  var presets = [];
  var openEditor = null;

  function nameOf(preset) { return P.language() === "en" ? preset.name_en : preset.name_vi; }

  function compare(a, b) {
    if (a.position !== b.position) return a.position - b.position;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  }

  function cell(labelKey, className) {
    var node = el("td", className || "");
    if (labelKey) node.appendChild(setText(el("span", "cell-label"), labelKey));
    return node;
  }

  function save(body) {
    return A.api("PUT", "/styles", { body: body }).then(function (saved) {
      var index = presets.findIndex(function (preset) { return preset.key === saved.key; });
      if (index >= 0) presets[index] = saved;
      else presets.push(saved);
      return saved;
    });
  }

  function renderRow(preset) {
    var tr = el("tr", preset.enabled ? "" : "switched-off", { "data-key": preset.key, "data-enabled": String(!!preset.enabled),
                                                              "data-testid": "style-row" });
    var position = cell("admin.field.position", "num position");
    position.appendChild(A.number(preset.position, "position-value"));
    tr.appendChild(position);

    var names = el("td", "style-names");
    var vi = el("strong", "style-name", { lang: "vi", "data-testid": "style-name-vi" });
    vi.textContent = preset.name_vi;
    names.appendChild(vi);
    var en = el("span", "style-name-en muted", { lang: "en", "data-testid": "style-name-en" });
    en.textContent = preset.name_en;
    names.appendChild(en);
    var key = el("code", "model-id");
    key.textContent = preset.key;
    names.appendChild(key);
    tr.appendChild(names);

    var words = el("td", "style-text", { "data-testid": "style-text" });
    words.textContent = preset.prompt_text;
    tr.appendChild(words);

    var state = cell(null, "style-state");
    state.appendChild(setText(el("span", "mark " + (preset.enabled ? "mark-on" : "mark-off"), { "data-testid": "style-state" }),
                              preset.enabled ? "admin.styles.shown" : "admin.styles.hidden"));
    tr.appendChild(state);

    var actions = el("td", "num actions");
    var buttons = el("div", "row-actions");
    var edit = setText(el("button", "button small secondary", { type: "button", "data-action": "edit" }), "admin.styles.edit");
    edit.addEventListener("click", function () { openEdit(preset, tr); });
    buttons.appendChild(edit);
    var toggle = setText(el("button", "button small " + (preset.enabled ? "ghost danger" : "secondary"),
                            { type: "button", "data-action": "toggle", "data-testid": "style-toggle" }),
                         preset.enabled ? "admin.styles.switch_off" : "admin.styles.switch_on");
    toggle.addEventListener("click", function () {
      toggle.disabled = true;
      save({ key: preset.key, enabled: !preset.enabled }).then(function (saved) {
        closeEdit();
        var fresh = renderRow(saved);
        fresh.classList.add("changed");
        tr.replaceWith(fresh);
        P.toast("success", t(saved.enabled ? "admin.styles.switched_on" : "admin.styles.switched_off", { name: nameOf(saved) }));
        fresh.querySelector('[data-action="toggle"]').focus();
      }, function (error) {
        toggle.disabled = false;
        P.showError(error);
      });
    });
    buttons.appendChild(toggle);
    actions.appendChild(buttons);
    tr.appendChild(actions);
    return tr;
  }

  function field(form, id, labelKey, control) {
    var box = el("div", "field");
    box.appendChild(setText(el("label", "", { "for": id }), labelKey));
    box.appendChild(control);
    form.appendChild(box);
    return control;
  }

  // The form for one preset (its current values), or for a new one (preset null).
  function styleForm(preset, onSaved, onCancel) {
    var prefix = preset ? "style-" + preset.key.replace(/[^\w-]/g, "_") : "new-style";
    var form = el("form", "admin-form style-form", { method: "post", action: "/admin/styles", novalidate: "", "data-testid": preset ? "style-editor" : "new-style" });
    var grid = el("div", "style-fields");
    form.appendChild(grid);
    var key = null;
    if (!preset) {
      key = field(grid, prefix + "-key", "admin.styles.key", el("input", "", { type: "text", id: prefix + "-key", maxlength: "40", autocomplete: "off",
                                                                                 "data-testid": "style-key", spellcheck: "false" }));
      P.setAttr(key, "placeholder", "admin.styles.key_placeholder");
    }
    var nameVi = field(grid, prefix + "-name-vi", "admin.field.name_vi", el("input", "", { type: "text", id: prefix + "-name-vi", maxlength: "60", lang: "vi", "data-testid": "style-name-vi-input" }));
    var nameEn = field(grid, prefix + "-name-en", "admin.field.name_en", el("input", "", { type: "text", id: prefix + "-name-en", maxlength: "60", lang: "en", "data-testid": "style-name-en-input" }));
    var position = field(grid, prefix + "-position", "admin.field.position", el("input", "", { type: "text", id: prefix + "-position", inputmode: "numeric", maxlength: "6", "data-testid": "style-position" }));
    var words = field(form, prefix + "-text", "admin.field.prompt_text", el("textarea", "", { id: prefix + "-text", rows: "2", maxlength: "500", "data-testid": "style-text-input" }));
    P.setAttr(words, "placeholder", "admin.styles.text_placeholder");
    var enabledBox = el("label", "check-field");
    var enabled = el("input", "", { type: "checkbox", "data-testid": "style-enabled" });
    enabledBox.appendChild(enabled);
    enabledBox.appendChild(setText(el("span", ""), "admin.styles.enabled_label"));
    form.appendChild(enabledBox);

    nameVi.value = preset ? preset.name_vi : "";
    nameEn.value = preset ? preset.name_en : "";
    words.value = preset ? preset.prompt_text : "";
    // A new preset goes last, on the next round ten (positions leave room for later ones in between).
    var last = presets.reduce(function (most, p) { return Math.max(most, p.position); }, 0);
    position.value = String(preset ? preset.position : (Math.floor(last / 10) + 1) * 10);
    enabled.checked = preset ? !!preset.enabled : true;

    var error = el("p", "alert alert-error form-error", { role: "alert", "data-testid": "style-error", hidden: "" });
    form.appendChild(error);
    var buttons = el("div", "form-actions");
    if (onCancel) {
      var cancel = setText(el("button", "button secondary", { type: "button", "data-action": "cancel" }), "admin.cancel");
      cancel.addEventListener("click", onCancel);
      buttons.appendChild(cancel);
    }
    var submit = setText(el("button", "button primary", { type: "submit", "data-action": "save" }), preset ? "admin.styles.save" : "admin.styles.add");
    buttons.appendChild(submit);
    form.appendChild(buttons);
    Array.prototype.forEach.call(form.querySelectorAll("input, textarea"), function (input) {
      input.addEventListener("input", function () { P.showInline(error, ""); });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { key: preset ? preset.key : key.value.trim(), name_vi: nameVi.value.trim(), name_en: nameEn.value.trim(),
                   prompt_text: words.value.trim(), enabled: enabled.checked };
      var where = position.value.trim();
      if (!/^-?\d{1,6}$/.test(where)) {
        P.showInline(error, t("admin.styles.position_invalid"));
        position.focus();
        return;
      }
      body.position = Number(where);
      if (!preset && presets.some(function (p) { return p.key === body.key; })) {
        P.showInline(error, t("admin.styles.key_taken", { key: body.key }));
        key.focus();
        return;
      }
      submit.disabled = true;
      submit.classList.add("working");
      save(body).then(function (saved) {
        onSaved(saved, form);
      }, function (failure) {
        P.showInline(error, failure.message);
      }).then(function () {
        submit.disabled = false;
        submit.classList.remove("working");
      });
    });
    return { form: form, focus: function () { (key || nameVi).focus(); } };
  }

  function closeEdit() {
    if (!openEditor) return;
    openEditor.editor.remove();
    openEditor.row.classList.remove("editing");
    var edit = openEditor.row.querySelector('[data-action="edit"]');
    if (edit) edit.hidden = false;
    openEditor = null;
  }

  function openEdit(preset, tr) {
    closeEdit();
    var editor = el("tr", "edit-tr", { "data-testid": "style-edit-row" });
    var td = el("td", "", { colspan: "5" });
    var built = styleForm(preset, function (saved) {
      closeEdit();
      render();
      var fresh = rows.querySelector('[data-key="' + CSS.escape(saved.key) + '"]');
      if (fresh) {
        fresh.classList.add("changed");
        fresh.querySelector('[data-action="edit"]').focus();
      }
      P.toast("success", t("admin.styles.saved", { name: nameOf(saved) }));
    }, function () {
      closeEdit();
      tr.querySelector('[data-action="edit"]').focus();
    });
    td.appendChild(built.form);
    editor.appendChild(td);
    tr.after(editor);
    tr.classList.add("editing");
    tr.querySelector('[data-action="edit"]').hidden = true;
    openEditor = { row: tr, editor: editor };
    editor.addEventListener("keydown", function (event) { if (event.key === "Escape") { closeEdit(); tr.querySelector('[data-action="edit"]').focus(); } });
    built.focus();
  }

  function render() {
    A.clear(rows);
    presets.slice().sort(compare).forEach(function (preset) { rows.appendChild(renderRow(preset)); });
    document.getElementById("styles-wrap").hidden = false;
  }

  function newForm() {
    var slot = A.clear(document.getElementById("new-style-slot"));
    var built = styleForm(null, function (saved) {
      closeEdit();
      render();
      var fresh = rows.querySelector('[data-key="' + CSS.escape(saved.key) + '"]');
      if (fresh) fresh.classList.add("changed");
      P.toast("success", t("admin.styles.added", { name: nameOf(saved) }));
      newForm();
    }, null);
    slot.appendChild(built.form);
  }

  P.start({ admin: true, page: "admin" }).then(function () {
    return A.api("GET", "/styles").then(function (answer) {
      presets = ((answer && answer.data) || []).slice();
      document.getElementById("styles-loading").hidden = true;
      render();
      newForm();
    });
  }).catch(P.showError);
})();

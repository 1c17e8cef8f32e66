// The API keys page: make a key (shown once), list keys by their prefix, revoke one after asking.
(function () {
  "use strict";

  var P = window.Phim;
  var el = P.el;
  var setText = P.setText;

  var form = document.getElementById("key-form");
  var nameInput = document.getElementById("key-name");
  var createButton = document.getElementById("key-create");
  var errorBox = document.getElementById("key-error");
  var panel = document.getElementById("new-key-panel");
  var newKey = document.getElementById("new-key");
  var newKeyName = document.getElementById("new-key-name");
  var wrap = document.getElementById("keys-wrap");
  var rows = document.getElementById("keys-rows");
  var empty = document.getElementById("keys-empty");
  var example = document.getElementById("curl-example");
  var shownKey = null;

  // Copies text, with the old selection trick where the clipboard API is missing (plain http).
  function copy(text, button, source) {
    function done() {
      setText(button, "keys.copied");
      setTimeout(function () { setText(button, "keys.copy"); }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(); });
    } else {
      fallback();
    }
    function fallback() {
      if (source && source.select) {
        source.focus();
        source.select();
      }
      try { if (document.execCommand("copy")) done(); } catch (error) { /* the text stays selected to copy by hand */ }
    }
  }

  function shellQuote(text) { return "'" + text.replace(/'/g, "'\\''") + "'"; }

  // The default model from the catalog (GET /api/v1/models): the example uses it and its first options.
  var exampleModel = null;

  function renderExample() {
    var base = window.location.origin;
    var request = { prompt: P.t("keys.example_prompt") };
    if (exampleModel) {
      request.model = exampleModel.id;
      request.duration = exampleModel.durations[0];
      request.aspect_ratio = exampleModel.aspect_ratios[0];
      request.resolution = exampleModel.resolutions[0];
    }
    var body = JSON.stringify(request, null, 2).replace(/\n/g, "\n  ");
    var lines = [
      "export PHIM_KEY=" + shellQuote(shownKey || P.t("keys.example_placeholder")),
      "",
      "curl " + base + "/api/v1/me \\",
      "  -H \"Authorization: Bearer $PHIM_KEY\"",
      "",
      "curl " + base + "/api/v1/models",
      "",
      "curl " + base + "/api/v1/videos \\",
      "  -H \"Authorization: Bearer $PHIM_KEY\" \\",
      "  -H \"Content-Type: application/json\" \\",
      "  -H \"Idempotency-Key: $(uuidgen)\" \\",
      "  -d " + shellQuote(body)
    ];
    example.textContent = lines.join("\n");
  }

  function confirmRow(key, row) {
    var confirm = el("tr", "confirm-tr", { "data-testid": "confirm-revoke" });
    var cell = el("td", "", { colspan: "5" });
    var box = el("div", "confirm-box");
    var words = el("div", "confirm-words");
    var title = el("strong", "");
    title.textContent = P.t("keys.confirm_title", { name: key.name || key.key_prefix });
    words.appendChild(title);
    words.appendChild(setText(el("span", "muted"), "keys.confirm_body"));
    box.appendChild(words);
    var actions = el("div", "confirm-actions");
    var keep = setText(el("button", "button small secondary", { type: "button", "data-action": "keep" }), "keys.keep");
    var revoke = setText(el("button", "button small danger-solid", { type: "button", "data-action": "confirm-revoke" }), "keys.revoke");
    keep.addEventListener("click", function () {
      confirm.remove();
      row.querySelector('[data-action="revoke"]').hidden = false;
      row.querySelector('[data-action="revoke"]').focus();
    });
    revoke.addEventListener("click", function () {
      revoke.disabled = true;
      keep.disabled = true;
      P.api("DELETE", "/api-keys/" + encodeURIComponent(key.id)).then(function () {
        P.toast("success", P.t("keys.revoked_toast"));
        return load();
      }).catch(function (error) {
        revoke.disabled = false;
        keep.disabled = false;
        P.showError(error);
      });
    });
    actions.appendChild(keep);
    actions.appendChild(revoke);
    box.appendChild(actions);
    cell.appendChild(box);
    confirm.appendChild(cell);
    return confirm;
  }

  function renderRow(key) {
    var row = el("tr", key.revoked_at ? "revoked" : "", { "data-id": key.id, "data-testid": "key-row" });
    var name = el("td", "key-name");
    name.textContent = key.name || "";
    row.appendChild(name);
    var prefix = el("td", "");
    var code = el("code", "");
    code.textContent = (key.key_prefix || "") + "…";
    prefix.appendChild(code);
    row.appendChild(prefix);
    var created = el("td", "when");
    if (key.created_at) created.appendChild(P.timeElement(key.created_at));
    row.appendChild(created);
    var status = el("td", "");
    if (key.revoked_at) {
      status.appendChild(setText(el("span", "badge badge-failed", { "data-testid": "key-status" }), "keys.revoked"));
      status.appendChild(document.createTextNode(" "));
      status.appendChild(P.timeElement(key.revoked_at));
    } else {
      status.appendChild(setText(el("span", "badge badge-completed", { "data-testid": "key-status" }), "keys.active"));
    }
    row.appendChild(status);
    var actions = el("td", "num");
    if (!key.revoked_at) {
      var revoke = setText(el("button", "button small ghost danger", { type: "button", "data-action": "revoke" }), "keys.revoke");
      revoke.addEventListener("click", function () {
        revoke.hidden = true;
        var confirm = confirmRow(key, row);
        row.after(confirm);
        confirm.querySelector('[data-action="keep"]').focus();
      });
      actions.appendChild(revoke);
    }
    row.appendChild(actions);
    return row;
  }

  function load() {
    return P.api("GET", "/api-keys").then(function (answer) {
      var keys = (answer && answer.data) || [];
      while (rows.firstChild) rows.firstChild.remove();
      keys.forEach(function (key) { rows.appendChild(renderRow(key)); });
      wrap.hidden = keys.length === 0;
      empty.hidden = keys.length > 0;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = nameInput.value.trim();
    if (!name) {
      P.showInline(errorBox, P.t("keys.name_required"));
      nameInput.focus();
      return;
    }
    P.showInline(errorBox, "");
    createButton.disabled = true;
    P.api("POST", "/api-keys", { body: { name: name } }).then(function (created) {
      shownKey = created.key;
      newKey.value = created.key;
      newKeyName.textContent = created.name || name;
      panel.hidden = false;
      nameInput.value = "";
      renderExample();
      newKey.focus();
      newKey.select();
      return load();
    }).catch(function (error) {
      P.showInline(errorBox, error.message);
    }).then(function () {
      createButton.disabled = false;
    });
  });

  document.getElementById("copy-key").addEventListener("click", function (event) {
    copy(newKey.value, event.currentTarget, newKey);
  });
  document.getElementById("copy-example").addEventListener("click", function (event) {
    copy(example.textContent, event.currentTarget, null);
  });
  // Once dismissed the key is gone from the page for good, as promised.
  document.getElementById("new-key-done").addEventListener("click", function () {
    panel.hidden = true;
    newKey.value = "";
    shownKey = null;
    renderExample();
  });

  // The account's own access: change the password (other sessions end), or sign out everywhere.
  var passwordForm = document.getElementById("password-form");
  var passwordError = document.getElementById("password-error");
  var passwordSubmit = document.getElementById("password-submit");
  passwordForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var current = passwordForm.elements.current_password.value;
    var next = passwordForm.elements.new_password.value;
    if (!current || !next) {
      P.showInline(passwordError, P.t("account.fill_both"));
      (current ? passwordForm.elements.new_password : passwordForm.elements.current_password).focus();
      return;
    }
    if (next.length < 8) {
      P.showInline(passwordError, P.t("signup.password_short", { minimum: 8 }));
      passwordForm.elements.new_password.focus();
      return;
    }
    P.showInline(passwordError, "");
    passwordSubmit.disabled = true;
    P.api("POST", "/auth/password", { body: { current_password: current, new_password: next } }).then(function () {
      passwordForm.reset();
      P.toast("success", P.t("account.password_changed"));
    }).catch(function (error) {
      P.showInline(passwordError, error.message);
    }).then(function () {
      passwordSubmit.disabled = false;
    });
  });
  document.getElementById("logout-all").addEventListener("click", function (event) {
    event.currentTarget.disabled = true;
    P.api("POST", "/auth/logout-all").then(function () {
      window.location.replace("/signin");
    }, function (error) {
      document.getElementById("logout-all").disabled = false;
      P.showError(error);
    });
  });

  P.onLanguage(renderExample);

  P.start({ signedIn: true, page: "keys" }).then(function (me) {
    // For password managers: the account the new password belongs to.
    if (me) document.getElementById("account-username").value = me.email;
    renderExample();
    P.api("GET", "/models").then(function (answer) {
      var models = (answer && answer.models) || [];
      exampleModel = models.filter(function (model) { return model["default"] === true; })[0] || models[0] || null;
      renderExample();
    }, function () {});
    return load();
  }).catch(P.showError);
})();

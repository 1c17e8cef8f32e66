// Operators: one account, its balances, ledger and audit entries; grant or deduct credits, disable or enable it.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var t = P.t;
  var setText = P.setText;

  var id = new URLSearchParams(window.location.search).get("id") || "";
  var account = null;

  var loading = document.getElementById("user-loading");
  var failure = document.getElementById("user-error");
  var view = document.getElementById("user-view");

  var creditsForm = document.getElementById("credits-form");
  var amountInput = document.getElementById("credits-amount");
  var creditsReason = document.getElementById("credits-reason");
  var creditsHint = document.getElementById("credits-hint");
  var creditsError = document.getElementById("credits-error");
  var creditsConfirm = document.getElementById("credits-confirm");

  var accessForm = document.getElementById("access-form");
  var accessState = document.getElementById("access-state");
  var accessReason = document.getElementById("access-reason");
  var accessSubmit = document.getElementById("access-submit");
  var accessError = document.getElementById("access-error");
  var accessConfirm = document.getElementById("access-confirm");
  var accessSelf = document.getElementById("access-self");

  function chosenMove() {
    var input = creditsForm.querySelector('input[name="action"]:checked');
    return input ? input.value : "grant";
  }

  function renderHint() {
    if (!account) return;
    if (chosenMove() === "deduct") setText(creditsHint, "admin.credits.deduct_hint", { amount: account.credits });
    else setText(creditsHint, "admin.credits.grant_hint");
    setText(document.getElementById("credits-submit"), chosenMove() === "deduct" ? "admin.credits.deduct_continue" : "admin.credits.grant_continue");
  }

  function renderAccount() {
    document.getElementById("account-email").textContent = account.email;
    var marks = document.getElementById("account-marks");
    A.clear(marks);
    marks.appendChild(A.marks(account));
    var created = document.getElementById("account-created");
    if (account.created_at) {
      created.dateTime = account.created_at;
      created.textContent = P.formatTime(account.created_at);
      created.title = account.created_at;
    }
    document.getElementById("account-id").textContent = account.id;
    document.getElementById("audit-all").href = "/admin/audit?user_id=" + encodeURIComponent(account.id);
    P.setNumber(document.getElementById("account-credits"), account.credits);
    P.setNumber(document.getElementById("account-held"), account.credits_on_hold);

    var self = P.me() && P.me().id === account.id;
    accessState.classList.toggle("is-disabled", !!account.disabled);
    accessState.dataset.state = account.disabled ? "disabled" : "active";
    setText(accessState, account.disabled ? "admin.access.state_disabled" : "admin.access.state_active");
    setText(accessSubmit, account.disabled ? "admin.access.enable" : "admin.access.disable");
    accessSubmit.className = "button " + (account.disabled ? "primary" : "danger");
    accessSubmit.dataset.action = account.disabled ? "enable" : "disable";
    accessForm.hidden = !!self && !account.disabled;
    accessSelf.hidden = !(self && !account.disabled);
    renderHint();
  }

  function renderTable(rowsId, wrapId, emptyId, items, render) {
    var rows = A.clear(document.getElementById(rowsId));
    items.forEach(function (item) { rows.appendChild(render(item)); });
    document.getElementById(wrapId).hidden = items.length === 0;
    document.getElementById(emptyId).hidden = items.length > 0;
  }

  function load() {
    return A.api("GET", "/users/" + encodeURIComponent(id)).then(function (answer) {
      account = answer.account;
      // Credits moved on one's own account show in the header too.
      if (P.me() && P.me().id === account.id) P.updateBalance({ id: account.id, email: account.email, is_admin: account.is_admin,
                                                                credits: account.credits, credits_on_hold: account.credits_on_hold });
      document.title = account.email + " · Phim";
      renderAccount();
      renderTable("ledger-rows", "ledger-wrap", "ledger-empty", answer.ledger || [], A.ledgerRow);
      document.getElementById("ledger-limit").hidden = (answer.ledger || []).length < 100;
      renderTable("audit-rows", "audit-wrap", "audit-empty", answer.audit || [], function (entry) { return A.auditRow(entry); });
      loading.hidden = true;
      view.hidden = false;
    });
  }

  function fail(error) {
    loading.hidden = true;
    P.showInline(failure, error.message);
  }

  // ------------------------------------------------------------ Credits

  creditsForm.addEventListener("change", function (event) {
    if (event.target.name === "action") {
      renderHint();
      P.showInline(creditsError, "");
    }
  });
  [amountInput, creditsReason].forEach(function (field) {
    field.addEventListener("input", function () { P.showInline(creditsError, ""); });
  });

  creditsForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!account || creditsForm.classList.contains("confirming")) return;
    var move = chosenMove();
    var amount = A.parseAmount(amountInput.value);
    var reason = creditsReason.value.trim();
    if (amount === null) {
      P.showInline(creditsError, t("admin.credits.amount_invalid"));
      amountInput.focus();
      return;
    }
    if (!reason) {
      P.showInline(creditsError, t("admin.reason_required"));
      creditsReason.focus();
      return;
    }
    if (move === "deduct" && amount > account.credits) {
      P.showInline(creditsError, t("admin.credits.too_much", { amount: account.credits }));
      amountInput.focus();
      return;
    }
    P.showInline(creditsError, "");
    var after = move === "grant" ? account.credits + amount : account.credits - amount;
    A.lockForm(creditsForm, true);
    A.confirmInline(creditsConfirm,
      t(move === "grant" ? "admin.credits.confirm_grant" : "admin.credits.confirm_deduct", { amount: amount, email: account.email }),
      [t("admin.credits.confirm_balance", { before: account.credits, after: after }), t("admin.confirm.reason", { reason: reason })],
      move === "grant" ? "admin.credits.grant_confirm" : "admin.credits.deduct_confirm", move === "deduct",
      function () {
        return A.api("POST", "/users/" + encodeURIComponent(id) + "/credits", { body: { action: move, amount: amount, reason: reason } });
      },
      function (error) { P.showInline(creditsError, error.message); }
    ).then(function (done) {
      A.lockForm(creditsForm, false);
      if (!done) return;
      P.toast("success", t(move === "grant" ? "admin.credits.granted" : "admin.credits.deducted", { amount: amount, email: account.email }));
      amountInput.value = "";
      creditsReason.value = "";
      return load().catch(P.showError);
    });
  });

  // ------------------------------------------------------------ Access

  accessReason.addEventListener("input", function () { P.showInline(accessError, ""); });

  accessForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!account || accessForm.classList.contains("confirming")) return;
    var disabling = !account.disabled;
    var reason = accessReason.value.trim();
    if (!reason) {
      P.showInline(accessError, t("admin.reason_required"));
      accessReason.focus();
      return;
    }
    P.showInline(accessError, "");
    A.lockForm(accessForm, true);
    A.confirmInline(accessConfirm,
      t(disabling ? "admin.access.confirm_disable" : "admin.access.confirm_enable", { email: account.email }),
      [t(disabling ? "admin.access.disable_effect" : "admin.access.enable_effect"), t("admin.confirm.reason", { reason: reason })],
      disabling ? "admin.access.disable" : "admin.access.enable", disabling,
      function () {
        return A.api("POST", "/users/" + encodeURIComponent(id) + (disabling ? "/disable" : "/enable"), { body: { reason: reason } });
      },
      function (error) { P.showInline(accessError, error.message); }
    ).then(function (done) {
      A.lockForm(accessForm, false);
      if (!done) return;
      P.toast("success", t(disabling ? "admin.access.disabled" : "admin.access.enabled", { email: account.email }));
      accessReason.value = "";
      return load().catch(P.showError);
    });
  });

  P.onLanguage(function () {
    if (account) document.title = account.email + " · Phim";
  });

  P.start({ admin: true, page: "admin" }).then(function () {
    if (!id) {
      fail({ message: t("admin.user.no_id") });
      return;
    }
    return load().catch(fail);
  }).catch(P.showError);
})();

// Operators: accounts, newest first, searched by email; each links to its own page.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var LIMIT = 50;

  var form = document.getElementById("search-form");
  var input = document.getElementById("search");
  var wrap = document.getElementById("users-wrap");
  var rows = document.getElementById("users-rows");
  var empty = document.getElementById("users-empty");
  var count = document.getElementById("users-count");
  var asked = 0;
  var timer = null;

  function userLink(account) {
    return "/admin/user?id=" + encodeURIComponent(account.id);
  }

  function renderRow(account) {
    var row = el("tr", account.disabled ? "disabled" : "", { "data-id": account.id, "data-testid": "user-row" });
    var who = el("td", "who");
    var line = el("div", "who-line");
    var link = el("a", "account-link", { href: userLink(account), "data-testid": "user-link" });
    link.textContent = account.email;
    line.appendChild(link);
    line.appendChild(A.marks(account));
    who.appendChild(line);
    row.appendChild(who);
    [["credits", "credits.available"], ["credits_on_hold", "credits.on_hold"]].forEach(function (column) {
      var cell = el("td", "num");
      cell.appendChild(P.setText(el("span", "cell-label"), column[1]));
      cell.appendChild(A.number(account[column[0]], column[0] === "credits" ? "balance-value" : "held-value"));
      if (!account[column[0]]) cell.classList.add("zero");
      row.appendChild(cell);
    });
    var created = el("td", "when");
    if (account.created_at) {
      created.appendChild(P.setText(el("span", "cell-label"), "admin.col.created"));
      created.appendChild(P.timeElement(account.created_at));
    }
    row.appendChild(created);
    // The whole row opens the account (the email stays the real link, for keyboards and new tabs).
    row.addEventListener("click", function (event) {
      if (event.target.closest("a") || (window.getSelection && String(window.getSelection()))) return;
      window.location.href = userLink(account);
    });
    return row;
  }

  function search() {
    var query = input.value.trim();
    var mine = ++asked;
    form.classList.add("busy");
    var url = new URL(window.location.href);
    if (query) url.searchParams.set("q", query);
    else url.searchParams.delete("q");
    window.history.replaceState(null, "", url.pathname + url.search);
    return A.api("GET", "/users?query=" + encodeURIComponent(query) + "&limit=" + LIMIT).then(function (answer) {
      if (mine !== asked) return;
      var accounts = (answer && answer.data) || [];
      A.clear(rows);
      accounts.forEach(function (account) { rows.appendChild(renderRow(account)); });
      wrap.hidden = accounts.length === 0;
      empty.hidden = accounts.length > 0;
      if (accounts.length >= LIMIT) P.setText(count, "admin.users.count_limited", { count: accounts.length });
      else if (accounts.length > 0) P.setText(count, "admin.users.count", { count: accounts.length });
      else count.textContent = "";
    }).catch(function (error) {
      if (mine === asked) P.showError(error);
    }).then(function () {
      if (mine === asked) form.classList.remove("busy");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    search();
  });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 300);
  });

  P.start({ admin: true, page: "admin" }).then(function () {
    input.value = new URLSearchParams(window.location.search).get("q") || "";
    return search();
  }).catch(P.showError);
})();

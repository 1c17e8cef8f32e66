// The sign-in page: email and password to a session cookie, then the studio.
(function () {
  "use strict";

  var P = window.Phim;
  var form = document.getElementById("signin-form");
  var errorBox = document.getElementById("form-error");
  var button = document.getElementById("signin-submit");

  function busy(on) {
    button.disabled = on;
    form.classList.toggle("busy", on);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var email = form.elements.email.value.trim();
    var password = form.elements.password.value;
    if (!email || !password) {
      P.showInline(errorBox, P.t("form.fill_both"));
      (email ? form.elements.password : form.elements.email).focus();
      return;
    }
    P.showInline(errorBox, "");
    busy(true);
    P.api("POST", "/auth/login", { body: { email: email, password: password } }).then(function () {
      window.location.replace("/");
    }, function (error) {
      busy(false);
      P.showInline(errorBox, error.message);
      form.elements.password.select();
    });
  });

  P.start({ signedIn: false, page: "signin" }).then(function () {
    // Already signed in (sign-in sets the CSRF cookie): straight to the studio.
    if (document.cookie.indexOf("phim_csrf=") < 0) return;
    P.api("GET", "/me", { allowUnauthenticated: true }).then(function (account) {
      if (account) window.location.replace("/");
    }, function () {});
  });
})();

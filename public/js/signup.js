// The sign-up page: makes the account, then signs in with the same email and password.
(function () {
  "use strict";

  var P = window.Phim;
  var MIN_PASSWORD = 8;
  var form = document.getElementById("signup-form");
  var errorBox = document.getElementById("form-error");
  var button = document.getElementById("signup-submit");

  function busy(on) {
    button.disabled = on;
    form.classList.toggle("busy", on);
  }

  function fail(error) {
    busy(false);
    P.showInline(errorBox, error.message);
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
    if (password.length < MIN_PASSWORD) {
      P.showInline(errorBox, P.t("signup.password_short", { minimum: MIN_PASSWORD }));
      form.elements.password.focus();
      return;
    }
    P.showInline(errorBox, "");
    busy(true);
    var credentials = { email: email, password: password };
    P.api("POST", "/auth/register", { body: credentials }).then(function () {
      return P.api("POST", "/auth/login", { body: credentials }).then(function () {
        window.location.replace("/");
      }, function (error) {
        // Sign-up answers alike for a taken email, so a refused sign-in may mean the email had
        // an account already, with another password.
        if (error.code === "invalid_credentials") error.message = P.t("signup.maybe_taken");
        fail(error);
      });
    }, fail);
  });

  P.start({ signedIn: false, page: "signup" });
})();

// Shared by every page: shows times in the reader's own time zone and language.
// The server writes each time in UTC inside <time datetime="...">; this rewrites the text.
(function () {
  "use strict";
  var lang = document.documentElement.lang === "en" ? "en-GB" : "vi-VN";
  var format = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

  function localizeTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (element) {
      var when = new Date(element.getAttribute("datetime"));
      if (!isNaN(when)) {
        element.textContent = format.format(when);
        element.title = when.toISOString();
      }
    });
  }

  window.Phim = { localizeTimes: localizeTimes, locale: lang };
  document.addEventListener("DOMContentLoaded", function () { localizeTimes(document); });
})();

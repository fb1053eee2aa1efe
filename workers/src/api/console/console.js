// The console's one script: a small enhancement, every page works without it.
// On the new-application form, changing the reason or a fact asks the server for the policy's
// decision again (the same POST the "Show the decision" button sends) and shows it in place.
// A submit button, once pressed, is disabled so a double click sends one form (the server's
// idempotency key makes one request anyway).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.value !== "quote") {
      setTimeout(function () { button.disabled = true; }, 0);
    }
  });
  var form = document.getElementById("application");
  if (!form || !window.fetch) { return; }
  var timer = null;
  function refresh() {
    var data = new URLSearchParams(new FormData(form));
    data.set("intent", "quote");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("quote") || doc.getElementById("quote-problem");
        var old = document.getElementById("quote") || document.getElementById("quote-problem");
        if (fresh && old) { old.replaceWith(fresh); }
        else if (fresh) { form.querySelector(".buttons").before(fresh); }
      })
      .catch(function () {});
  }
  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
})();

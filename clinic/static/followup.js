// The follow-up page's live queue status: polls the page's JSON status and updates the
// page in place (no reload). Without JavaScript the page refreshes itself instead.
(function () {
  "use strict";
  var card = document.getElementById("queue");
  if (!card || !window.fetch) { return; }
  var url = card.getAttribute("data-status-url");
  var every = Math.max(1, parseInt(card.getAttribute("data-poll-seconds"), 10) || 5) * 1000;

  function show(id, visible) {
    var el = document.getElementById(id);
    if (el) { el.hidden = !visible; }
  }

  function apply(view) {
    if (!view || !view.status || view.status === "pending") { return; }
    var status = document.getElementById("queue-status");
    status.textContent = view.status_text;
    status.setAttribute("data-status", view.status);
    status.className = (view.status === "called_in" || view.status === "seen") ? "notice" : "card";
    document.getElementById("queue-place").textContent = view.ahead_text || String(view.ahead);
    document.getElementById("queue-wait").textContent = view.wait_text || "";
    show("queue-place-row", view.status === "waiting");
    show("queue-wait-row", view.status === "waiting" && !!view.wait_text);
    if (view.final) { show("queue-live", false); }
  }

  function poll() {
    fetch(url, { credentials: "omit", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (view) {
        apply(view);
        if (!view || !view.final) { window.setTimeout(poll, every); }
      })
      .catch(function () { window.setTimeout(poll, every * 2); });
  }
  window.setTimeout(poll, every);
})();

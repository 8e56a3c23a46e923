// The follow-up page's live parts, without reloading the page:
// - a check-in's queue status: polls the page's JSON status and updates the card in place;
// - a page waiting for something (the visit being recorded, a staff answer): fetches the page
//   again and swaps its content when it changed, until the new page no longer waits.
// Without JavaScript the page refreshes itself instead (a <meta refresh> inside <noscript>).
(function () {
  "use strict";
  if (!window.fetch) { return; }

  function show(id, visible) {
    var el = document.getElementById(id);
    if (el) { el.hidden = !visible; }
  }

  function startQueue() {
    var card = document.getElementById("queue");
    if (!card || !card.getAttribute("data-status-url")) { return; }
    var url = card.getAttribute("data-status-url");
    var every = Math.max(1, parseInt(card.getAttribute("data-poll-seconds"), 10) || 5) * 1000;

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
  }

  function startWaiting() {
    var main = document.querySelector("main[data-refresh-seconds]");
    if (!main) { return; }
    var every = Math.max(1, parseInt(main.getAttribute("data-refresh-seconds"), 10) || 5) * 1000;

    function typing() {
      var el = document.activeElement;
      return !!el && main.contains(el) && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
    }

    function poll() {
      if (typing()) { window.setTimeout(poll, every); return; }
      fetch(window.location.href, { credentials: "omit", cache: "no-store" })
        .then(function (r) { return r.ok || r.status === 404 || r.status === 410 ? r.text() : null; })
        .then(function (html) {
          if (html === null) { window.setTimeout(poll, every); return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("main");
          if (!fresh) { window.setTimeout(poll, every); return; }
          if (fresh.innerHTML !== main.innerHTML) {
            main.innerHTML = fresh.innerHTML;
            document.title = doc.title;
          }
          if (fresh.hasAttribute("data-refresh-seconds")) {
            window.setTimeout(poll, every);
          } else {
            main.removeAttribute("data-refresh-seconds");
            startQueue();
          }
        })
        .catch(function () { window.setTimeout(poll, every * 2); });
    }
    window.setTimeout(poll, every);
  }

  startQueue();
  startWaiting();
})();

// Progressive enhancement only: every action works without this file.
// Keeps "time waited" counters current between the page's own refreshes.
(function () {
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (isNaN(since)) return;
      var minutes = Math.max(0, Math.floor((now - since) / 60000));
      el.textContent = minutes + " min";
      el.classList.toggle("long", minutes >= 30);
    });
  }
  tick();
  setInterval(tick, 15000);
})();

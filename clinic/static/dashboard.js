// Progressive enhancement only: every action works without this file.
// 1. Keeps "time waited" counters current.
// 2. Live updates: listens to /api/live/events (server-sent events) and, when something
//    this page shows has changed (body[data-live]), fetches the page again and swaps its
//    <main>; never while staff are typing in a form on it.
// 3. Sound and browser notifications for a new question, an emergency-word question and an
//    alert, each switchable (remembered in this browser's localStorage).
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

  var body = document.body;
  if (!body || !window.EventSource || !window.fetch || !body.hasAttribute("data-live")) return;
  var wanted = (body.getAttribute("data-live") || "").split(/\s+/).filter(Boolean);
  var panel = document.getElementById("live-settings");
  var stateTag = document.getElementById("live-state");
  var DEFAULTS = {
    "question-sound": true, "question-notify": false,
    "emergency-sound": true, "emergency-notify": true,
    "alert-sound": true, "alert-notify": true
  };

  function pref(name) {
    try {
      var v = window.localStorage.getItem("live." + name);
      if (v === "1") return true;
      if (v === "0") return false;
    } catch (e) { /* storage off: defaults */ }
    return DEFAULTS[name];
  }

  if (panel) {
    panel.hidden = false;
    panel.querySelectorAll("input[data-pref]").forEach(function (box) {
      var name = box.getAttribute("data-pref");
      box.checked = pref(name);
      box.addEventListener("change", function () {
        try { window.localStorage.setItem("live." + name, box.checked ? "1" : "0"); } catch (e) { }
        if (box.checked && /-notify$/.test(name) && window.Notification &&
            Notification.permission === "default") {
          Notification.requestPermission();
        }
      });
    });
  }

  var audio = null;
  // Same Web Audio steps as chime() in display.js: kept apart because each page loads only
  // its own script, and the sounds differ (alert beeps here, a two-note call there).
  function beep(times, freq) {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      audio = audio || new Ctx();
      for (var i = 0; i < times; i++) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        var start = audio.currentTime + i * 0.3;
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.25, start);
        gain.gain.exponentialRampToValueAtTime(0.001, start + 0.25);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(start); osc.stop(start + 0.26);
      }
    } catch (e) { /* a browser that blocks audio until a click */ }
  }

  // Texts are fixed here: events carry no patient data, and neither do notifications.
  var CUES = {
    question: { sound: [1, 660], title: "New question", text: "A patient asked a question." },
    emergency: { sound: [3, 990], title: "Emergency-word question",
                 text: "A question with emergency words arrived. Open the dashboard." },
    alert: { sound: [2, 440], title: "Clinic alert", text: "A new alert is on the dashboard." }
  };
  function cue(category) {
    var c = CUES[category];
    body.setAttribute("data-last-cue", category);
    if (pref(category + "-sound")) beep(c.sound[0], c.sound[1]);
    if (pref(category + "-notify") && window.Notification && Notification.permission === "granted") {
      try { new Notification(c.title, { body: c.text, tag: "clinic-" + category }); } catch (e) { }
    }
  }

  var pending = null;
  var refreshing = false;
  function typing() {
    var el = document.activeElement;
    var main = document.querySelector("main");
    return el && main && main.contains(el) && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) &&
      el.type !== "submit" && el.type !== "button";
  }
  function refresh() {
    pending = null;
    if (typing()) { pending = setTimeout(refresh, 2000); return; }
    if (refreshing) { pending = setTimeout(refresh, 200); return; }
    refreshing = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) { window.location.reload(); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        var main = document.querySelector("main");
        if (fresh && main && !typing()) {
          main.innerHTML = fresh.innerHTML;
          body.setAttribute("data-live-refreshed", String(Date.now()));
          tick();
        }
      })
      .catch(function () { /* next event retries */ })
      .then(function () { refreshing = false; });
  }
  function schedule() {
    if (pending === null) pending = setTimeout(refresh, 150);
  }

  var source = new EventSource("/api/live/events");
  source.onopen = function () {
    body.setAttribute("data-live-state", "open");
    if (stateTag) { stateTag.textContent = "Live"; stateTag.className = "tag seen"; }
  };
  source.onerror = function () {
    body.setAttribute("data-live-state", "reconnecting");
    if (stateTag) { stateTag.textContent = "Reconnecting"; stateTag.className = "tag"; }
  };
  ["arrival", "question", "rating", "alert", "kiosk", "queue", "interpreter"].forEach(function (kind) {
    source.addEventListener(kind, function (ev) {
      var data = {};
      try { data = JSON.parse(ev.data).payload || {}; } catch (e) { }
      if (kind === "question") cue("question");
      if (kind === "alert") cue(data.alert_kind === "emergency_question" ? "emergency" : "alert");
      if (wanted.indexOf(kind) >= 0) schedule();
    });
  });
})();

// The waiting-room display: polls /display/state and redraws the calls, with a chime for
// each new or repeated call. `render(state)` is the one function that draws a state, so
// another source of states (server-sent events) can call it too.
(function () {
  "use strict";
  var body = document.getElementById("display");
  if (!body || !window.fetch) { return; }
  var url = body.getAttribute("data-state-url");
  var every = Math.max(1, parseInt(body.getAttribute("data-poll-seconds"), 10) || 3) * 1000;
  var seen = {};
  var first = true;
  var audio = null;

  document.querySelectorAll("#calls li[data-number]").forEach(function (li) {
    seen[li.getAttribute("data-number") + "@" + li.getAttribute("data-called-at")] = true;
  });

  // Same Web Audio steps as beep() in dashboard.js: kept apart because each page loads only
  // its own script, and the sounds differ (a two-note call here, alert beeps there).
  function chime() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [660, 880].forEach(function (freq, i) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        var start = audio.currentTime + i * 0.35;
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.4, start + 0.03);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.6);
        osc.connect(gain).connect(audio.destination);
        osc.start(start);
        osc.stop(start + 0.65);
      });
      body.setAttribute("data-chimes", String((parseInt(body.getAttribute("data-chimes"), 10) || 0) + 1));
    } catch (e) { /* no sound device: the flash still shows the call */ }
  }

  function render(state) {
    var list = document.getElementById("calls");
    var fresh = false;
    list.textContent = "";
    (state.calls || []).forEach(function (call) {
      var key = call.number + "@" + call.called_at;
      var li = document.createElement("li");
      var number = document.createElement("span");
      var room = document.createElement("span");
      li.setAttribute("data-number", call.number);
      li.setAttribute("data-called-at", call.called_at);
      number.className = "number";
      number.textContent = call.number;
      room.className = "room";
      room.textContent = call.room || "Front desk";
      li.appendChild(number);
      li.appendChild(room);
      if (!seen[key]) { li.className = "fresh"; fresh = true; seen[key] = true; }
      list.appendChild(li);
    });
    if (!state.calls || !state.calls.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "-";
      list.appendChild(none);
    }
    document.getElementById("waiting").textContent = String(state.waiting);
    document.getElementById("wait").textContent = state.wait_low + "-" + state.wait_high + " min";
    if (fresh && !first) { chime(); }
    first = false;
  }
  window.clinicDisplayRender = render;

  function tick() {
    var now = new Date();
    document.getElementById("clock").textContent =
      ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
  }

  function poll() {
    fetch(url, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (state) {
        document.getElementById("offline").hidden = !!state;
        if (state) { render(state); }
        window.setTimeout(poll, every);
      })
      .catch(function () {
        document.getElementById("offline").hidden = false;
        window.setTimeout(poll, every);
      });
  }
  first = false;
  tick();
  window.setInterval(tick, 10000);
  window.setTimeout(poll, every);
})();

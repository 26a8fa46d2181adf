/* Taiwa live board client.
 *
 * The board is server-rendered HTML (templates/partials/_board_list.html); this script keeps it
 * live. It joins the /board Socket.IO namespace, sends the page's forms as socket events with an
 * op id (resent after a reconnect until acknowledged), tracks `seq` so a reconnect asks only for
 * what was missed, and re-renders by fetching the same HTML fragment and merging it in place so
 * that focus and half-typed text are kept. Others' changes are announced through one polite live
 * region, throttled, and can be muted.
 */
(function () {
  "use strict";

  var app = document.getElementById("board-app");
  if (!app || typeof io === "undefined") { return; }

  var boardId = parseInt(app.dataset.board, 10);
  var token = app.dataset.token || "";
  var mode = app.dataset.mode;
  var texts = JSON.parse(document.getElementById("board-i18n").textContent);
  var list = document.getElementById("board-list");
  var seq = parseInt(list.dataset.seq || "0", 10);
  var pending = {};           // op id -> {type, payload}
  var mine = {};              // op ids this page sent: their events are confirmations, not news
  var skew = 0;               // server clock minus this device's clock, in ms
  var muted = localStorage.getItem("taiwa-board-muted") === "1";
  var announceQueue = {};
  var announceTimer = null;
  var refreshTimer = null;
  var refreshing = false;

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_m, key) { return values[key] === undefined ? "" : values[key]; });
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  /* ---------------------------------------------------------------- announcements */

  var muteButton = document.getElementById("mute");
  function showMute() {
    if (muteButton) { muteButton.setAttribute("aria-pressed", muted ? "true" : "false"); }
  }
  if (muteButton) {
    showMute();
    muteButton.addEventListener("click", function () {
      muted = !muted;
      localStorage.setItem("taiwa-board-muted", muted ? "1" : "0");
      showMute();
    });
  }

  function announce(key, message) {
    if (muted) { return; }
    announceQueue[key] = message;
    if (announceTimer) { return; }
    announceTimer = setTimeout(function () {
      var messages = Object.keys(announceQueue).map(function (k) { return announceQueue[k]; });
      announceQueue = {};
      announceTimer = null;
      setText("announcer", messages.join(" "));
    }, 2000);
  }

  var newNotes = {};
  function zoneTitle(zoneId) {
    var heading = document.getElementById("zone-" + zoneId + "-title");
    return heading ? heading.firstChild.textContent.trim() : "";
  }

  function describe(event) {
    if (event.type === "note:added") {
      var count = newNotes[event.data.zone] = (newNotes[event.data.zone] || 0) + 1;
      announce("notes-" + event.data.zone, format(count === 1 ? texts.new_note : texts.new_notes,
        { n: count, zone: zoneTitle(event.data.zone) }));
    } else if (event.type === "phase:changed") {
      announce("phase", format(texts.phase, { phase: texts.phases[event.data.phase] || event.data.phase }));
    } else if (event.type === "votes:revealed" && event.data.revealed) {
      announce("revealed", texts.revealed);
    } else if (event.type !== "votes:progress" && event.type !== "noop") {
      announce("changes", texts.changes);
    }
  }

  /* ---------------------------------------------------------------- rendering */

  function isDirty(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "hidden")) &&
      el.value !== el.defaultValue;
  }

  function openDetails(root) {
    var open = {};
    root.querySelectorAll("details[open][id]").forEach(function (d) { open[d.id] = true; });
    return open;
  }

  /* Replace changed parts of the board, keyed by id, keeping focus and unsent text. */
  function merge(oldNode, newNode, active) {
    if (oldNode.isEqualNode(newNode)) { return; }
    if (!oldNode.contains(active) || oldNode === active) {
      oldNode.replaceWith(newNode);
      return;
    }
    if (isDirty(active) && oldNode.tagName === "FORM") { return; }   // keep what is being typed
    var oldChildren = Array.prototype.slice.call(oldNode.children);
    var newChildren = Array.prototype.slice.call(newNode.children);
    var sameShape = oldChildren.length === newChildren.length && oldChildren.every(function (child, i) {
      return child.tagName === newChildren[i].tagName && (child.id || "") === (newChildren[i].id || "");
    });
    if (!sameShape) {
      var activeId = active && active.id;
      oldNode.replaceWith(newNode);
      var again = activeId && document.getElementById(activeId);
      if (again) { again.focus(); } else { focusNearest(newNode); }
      return;
    }
    for (var i = 0; i < oldChildren.length; i++) { merge(oldChildren[i], newChildren[i], active); }
    Array.prototype.slice.call(newNode.attributes).forEach(function (attr) {
      if (oldNode.getAttribute(attr.name) !== attr.value) { oldNode.setAttribute(attr.name, attr.value); }
    });
  }

  /* Text typed but not sent yet (and changed choices), by element id, to put back after a re-render. */
  function unsentValues(root) {
    var values = {};
    root.querySelectorAll("textarea[id], input[id], select[id]").forEach(function (el) {
      if (el.type === "hidden") { return; }
      if (el.tagName === "SELECT") {
        // the option shown first: the one marked selected in the HTML, or else the first
        var initial = Array.prototype.filter.call(el.options, function (o) { return o.defaultSelected; })[0] || el.options[0];
        if (initial && el.value !== initial.value) { values[el.id] = { select: el.value }; }
      } else if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked !== el.defaultChecked) { values[el.id] = { checked: el.checked }; }
      } else if (el.value !== el.defaultValue) {
        values[el.id] = { value: el.value };
      }
    });
    return values;
  }

  function restoreValues(values) {
    Object.keys(values).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) { return; }
      var saved = values[id];
      if ("value" in saved) { el.value = saved.value; }
      if ("select" in saved) { el.value = saved.select; }
      if ("checked" in saved) { el.checked = saved.checked; }
    });
  }

  function focusNearest(node) {
    var heading = node.querySelector("h2, h3");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }

  function refresh() {
    if (refreshing) { scheduleRefresh(300); return; }
    refreshing = true;
    fetch(app.dataset.fragment, { headers: { "HX-Request": "true", "HX-Target": "board-list" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("board-list");
        if (!fresh) { return; }
        var drafts = unsentValues(list);
        var open = openDetails(list);
        Object.keys(open).forEach(function (id) {
          var d = fresh.querySelector("#" + CSS.escape(id));
          if (d) { d.setAttribute("open", ""); }
        });
        var active = document.activeElement;
        var activeId = active && active.id;
        var caret = active && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
        var controls = document.getElementById("board-controls");   // the console's controls follow the state too
        var freshControls = doc.getElementById("board-controls");
        if (controls && freshControls) { merge(controls, freshControls, active); }
        merge(list, fresh, active);
        list = document.getElementById("board-list");
        restoreValues(drafts);
        var again = activeId && document.getElementById(activeId);
        if (again && document.activeElement !== again) {
          again.focus();
          if (caret && again.setSelectionRange) { again.setSelectionRange(caret[0], caret[1]); }
        }
        newNotes = {};
        showPresence();
        tickTimer();
      })
      .catch(function () { /* the next event or reconnect refreshes again */ })
      .then(function () { refreshing = false; });
  }

  function scheduleRefresh(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, delay === undefined ? 250 : delay);
  }

  /* ---------------------------------------------------------------- timer */

  function tickTimer() {
    var done = false;
    document.querySelectorAll(".timer[data-ends-at]").forEach(function (timer) {
      var left = Math.max(0, Math.round((parseInt(timer.dataset.endsAt, 10) - (Date.now() + skew)) / 1000));
      var span = timer.querySelector(".timer__left");
      var text = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (span && span.textContent !== text) { span.textContent = text; }
      if (left === 0 && !timer.dataset.done) { timer.dataset.done = "1"; done = true; }
    });
    if (done) { announce("timer", texts.timer_done); }
  }
  setInterval(tickTimer, 1000);

  /* ---------------------------------------------------------------- connection */

  var socket = io("/board", {
    auth: function (callback) { callback({ token: token, board: boardId, since: seq, lang: app.dataset.lang }); },
    transports: ["websocket", "polling"]
  });

  function status(text) { setText("connection", text); }

  socket.on("connect", function () {
    status(texts.connected);
    Object.keys(pending).forEach(function (op) { send(pending[op].type, pending[op].payload); });
    scheduleRefresh(0);
  });
  socket.on("disconnect", function () { status(texts.offline); });
  socket.on("connect_error", function () { status(texts.offline); });

  socket.on("snapshot", function (snap) {
    seq = snap.seq;
    if (snap.server_now) { skew = snap.server_now - Date.now(); }
    scheduleRefresh(0);
  });

  socket.on("event", function (event) {
    if (event.seq <= seq) { return; }                 // already seen (e.g. replayed)
    var first = event.from || event.seq;               // a coalesced progress message covers from..seq
    if (first > seq + 1) {                             // a gap: ask for the whole state
      socket.emit("board:snapshot", {}, function (answer) {
        if (answer && answer.ok) { seq = answer.snapshot.seq; scheduleRefresh(0); }
      });
      return;
    }
    seq = event.seq;
    if (event.type === "timer:started" || event.type === "phase:changed") { scheduleRefresh(0); }
    if (!(event.op && mine[event.op])) { describe(event); }
    scheduleRefresh();
  });

  var presence = null;
  function showPresence() {
    var el = document.getElementById("presence");
    if (el && presence) { el.textContent = el.textContent.replace(/\d+/, String(presence.connected)); }
  }
  socket.on("presence", function (counts) {
    presence = counts;
    showPresence();
    scheduleRefresh(1000);   // someone joined: the counts per connection, the projector's join count
  });

  function newOp() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /* A command from this page's own code (keys, drag and drop), sent and resent like a form's. */
  function command(type, payload) {
    payload.op = newOp();
    pending[payload.op] = { type: type, payload: payload };
    mine[payload.op] = true;
    send(type, payload);
  }

  function send(type, payload) {
    if (!socket.connected) { setText("board-message", texts.queued); return; }
    socket.timeout(10000).emit(type, payload, function (err, answer) {
      if (err) { return; }                             // still pending: resent after reconnect
      delete pending[payload.op];
      if (answer && answer.ok) {
        setText("board-message", texts.saved);
        scheduleRefresh(0);
      } else if (answer && answer.error) {
        setText("board-message", answer.error.message);
      }
    });
  }

  /* ---------------------------------------------------------------- the projector's keys */

  function toggle(id) {
    var el = document.getElementById(id);
    if (el) { el.hidden = !el.hidden; }
  }

  if (mode === "projector") {
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      var stage = document.getElementById("board-list");
      var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      if (key === "n" || key === "ArrowRight" || key === "PageDown") {
        if (stage.dataset.nextPhase !== stage.dataset.phase) { command("phase:set", { phase: stage.dataset.nextPhase }); }
      } else if (key === "r") {
        if (stage.dataset.poll) {
          command("poll:reveal", { poll: stage.dataset.poll, revealed: stage.dataset.pollRevealed !== "1" });
        } else {
          command("votes:reveal", { revealed: stage.dataset.revealed !== "1" });
        }
      } else if (key === "t") {
        command(stage.dataset.timer === "1" ? "timer:stop" : "timer:start", stage.dataset.timer === "1" ? {} : { seconds: 300 });
      } else if (key === "j") {
        toggle("stage-join-overlay");
      } else if (key === "?" || key === "h") {
        toggle("stage-keys");
      } else if (key === "f") {
        if (document.fullscreenElement) { document.exitFullscreen(); }
        else if (document.documentElement.requestFullscreen) { document.documentElement.requestFullscreen().catch(function () {}); }
      } else if (key === "Escape") {
        document.querySelectorAll(".stage-overlay").forEach(function (el) { el.hidden = true; });
      } else {
        return;
      }
      event.preventDefault();
    });
  }

  /* ---------------------------------------------------------------- grouping by drag and drop
   * Drop a note on another note: a new cluster of the two (titled by the note dropped on); on a
   * cluster: it joins it; on the zone's loose notes: out of its cluster. The forms in each note
   * ("Cluster") stay the keyboard and screen-reader path. Pointer and touch both use pointer events. */

  var dragging = null;      // {note, zone, ghost, startX, startY, moved}

  function dropTarget(x, y) {
    var el = document.elementFromPoint(x, y);
    while (el && el !== list) {
      if (el.classList && el.classList.contains("note") && el.dataset.note) { return { note: el }; }
      if (el.classList && el.classList.contains("cluster") && el.dataset.group) { return { group: el }; }
      if (el.classList && el.classList.contains("zone")) { return { zone: el }; }
      el = el.parentElement;
    }
    return null;
  }

  function clearDropMarks() {
    list.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  }

  list.parentNode.addEventListener("pointerdown", function (event) {
    var note = event.target.closest && event.target.closest("li.note[data-draggable]");
    if (!note || event.button > 0 || event.target.closest("button, a, input, select, textarea, summary, details[open]")) { return; }
    dragging = { note: note, startX: event.clientX, startY: event.clientY, moved: false, pointer: event.pointerId };
  });

  document.addEventListener("pointermove", function (event) {
    if (!dragging || event.pointerId !== dragging.pointer) { return; }
    if (!dragging.moved && Math.abs(event.clientX - dragging.startX) + Math.abs(event.clientY - dragging.startY) < 8) { return; }
    dragging.moved = true;
    event.preventDefault();
    dragging.note.classList.add("note--dragging");
    clearDropMarks();
    var target = dropTarget(event.clientX, event.clientY);
    var el = target && (target.note || target.group || target.zone);
    if (el && el !== dragging.note) { el.classList.add("drop-target"); }
  });

  document.addEventListener("pointerup", function (event) {
    if (!dragging || event.pointerId !== dragging.pointer) { return; }
    var drag = dragging;
    dragging = null;
    drag.note.classList.remove("note--dragging");
    clearDropMarks();
    if (!drag.moved) { return; }
    var target = dropTarget(event.clientX, event.clientY);
    if (!target) { return; }
    var noteId = drag.note.dataset.note;
    if (target.note && target.note !== drag.note) {
      var other = target.note;
      if (other.dataset.group) {
        command("group:set", { note: noteId, group: other.dataset.group });
      } else {
        // a new cluster with the note dropped on (titled by its first words), then the dragged note joins it
        var title = other.querySelector(".note__text").textContent.trim().slice(0, 40);
        socket.timeout(10000).emit("group:set", { op: newOp(), note: other.dataset.note, title: title }, function (err, answer) {
          if (err || !answer || !answer.ok) { setText("board-message", (answer && answer.error && answer.error.message) || texts.offline); return; }
          if (answer.group) { command("group:set", { note: noteId, group: answer.group }); }
          else { scheduleRefresh(0); }
        });
      }
    } else if (target.group) {
      command("group:set", { note: noteId, group: target.group.dataset.group });
    } else if (target.zone && drag.note.dataset.group) {
      command("group:set", { note: noteId, group: null });
    }
  });

  document.addEventListener("pointercancel", function () {
    if (dragging) { dragging.note.classList.remove("note--dragging"); dragging = null; clearDropMarks(); }
  });

  /* Forms marked data-command go over the socket; without this script they post over HTTP. */
  app.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-command")) { return; }
    event.preventDefault();
    var data = new FormData(form);
    var type = data.get("type");
    var payload = { op: newOp() };
    var counts = null;
    data.forEach(function (value, key) {
      if (["type", "op", "back", "_csrf_token", "unit"].indexOf(key) >= 0) { return; }
      if (key === "choices" || key === "ranking") {
        (payload[key] = payload[key] || []).push(value);
      } else if (key.indexOf("room_") === 0) {
        (counts = counts || {})[key.slice(5)] = parseInt(value || "0", 10);
      } else if (key === "poll_type") {
        payload.type = value;
      } else if (key === "options") {
        payload.options = value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
      } else if (key === "max_choices") {
        if (value) { payload.max_choices = parseInt(value, 10); }
      } else if (key === "seconds" || key === "count") {
        payload[key] = parseInt(value, 10) * (key === "seconds" && data.get("unit") === "minutes" ? 60 : 1);
      } else if (["locked", "revealed", "hidden", "anonymous", "live_results", "open"].indexOf(key) >= 0) {
        payload[key] = value === "1";
      } else if (key === "group" && value === "") {
        payload[key] = null;
      } else {
        payload[key] = value;
      }
    });
    if (counts) { payload.counts = counts; }
    pending[payload.op] = { type: type, payload: payload };
    mine[payload.op] = true;
    send(type, payload);
    var textarea = form.querySelector("textarea[name=text]");
    if (type === "note:add" && textarea) { textarea.value = ""; textarea.defaultValue = ""; textarea.focus(); }
  });
})();

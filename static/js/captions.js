/* Taiwa live captions client.
 *
 * Viewers (/c/{code}, the captions band on board pages and the online room): joins the /captions
 * Socket.IO namespace with the stream's code only, renders the `snapshot` and every `caption`
 * message into the server-rendered list, asks on reconnect only for what changed after the last
 * seq it saw (and joins again that way if a message ever skips a seq), and applies the viewer's
 * display choices (text size, colours, lines, announcing), remembered on this device.
 *
 * Captioners (#captioner-app): the same, with the link's token, plus fast typing: Enter commits
 * the line (never while an IME is composing), lines are sent one after another with an op id and
 * resent until acknowledged, Alt+1..9 picks a speaker label, Alt+0 none, Alt+↑ corrects the latest
 * line, each committed line can be corrected in place.
 */
(function () {
  "use strict";

  if (typeof io === "undefined") { return; }
  var captioner = document.getElementById("captioner-app");
  var view = captioner || document.querySelector("[data-captions-code]");
  if (!view || view.dataset.captionsStarted) { return; }
  view.dataset.captionsStarted = "1";

  var texts = JSON.parse(document.getElementById("captions-i18n").textContent);
  var code = view.dataset.captionsCode;
  var token = captioner ? captioner.dataset.token : "";
  var list = captioner ? document.getElementById("captioner-lines") : view.querySelector(".caption-lines");
  var region = view.querySelector("[data-live-region]");
  var seq = parseInt((list && list.dataset.seq) || "0", 10);
  if (captioner) { seq = 0; }  // the captioner's list is rebuilt from the first snapshot (its edit forms are ours)
  var lines = {};              // line id -> its data, for merging edits
  var queue = [];              // the captioner's changes [{event, payload, done}], sent one after another
  var inFlight = false;        // each until acknowledged (resent with the same op id: applied once)
  var SETTINGS_KEY = "taiwa-captions-settings";
  var LABELS_KEY = "taiwa-captions-speakers";

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_m, key) { return values[key] === undefined ? "" : String(values[key]); });
  }

  function status(text) {
    var el = view.querySelector("[data-connection]");
    if (el) { el.textContent = text; }
  }

  function newOp() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /* ---------------------------------------------------------------- rendering */

  function viewerItem(line) {
    var li = document.createElement("li");
    li.id = "line-" + line.line;
    li.dataset.line = line.line;
    fillViewerItem(li, line);
    return li;
  }

  function fillViewerItem(li, line) {
    li.textContent = "";
    if (line.speaker) {
      var who = document.createElement("span");
      who.className = "caption-speaker";
      who.textContent = line.speaker;
      li.appendChild(who);
      li.appendChild(document.createTextNode(" "));
    }
    var what = document.createElement("span");
    what.className = "caption-text";
    what.textContent = line.text;
    li.appendChild(what);
  }

  function captionerItem(line) {
    var li = document.createElement("li");
    li.id = "line-" + line.line;
    li.dataset.line = line.line;
    var number = document.createElement("span");
    number.className = "caption-number";
    number.textContent = line.line;
    li.appendChild(number);
    li.appendChild(document.createTextNode(" "));
    var body = document.createElement("span");
    body.className = "caption-body";
    li.appendChild(body);
    var edit = document.createElement("button");
    edit.type = "button";
    edit.className = "link-button caption-edit";
    edit.textContent = texts.edit;
    var which = document.createElement("span");
    which.className = "visually-hidden";
    which.textContent = " " + format(texts.which_line, { line: line.line });
    edit.appendChild(which);
    edit.addEventListener("click", function () { startEdit(line.line); });
    li.appendChild(document.createTextNode(" "));
    li.appendChild(edit);
    fillViewerItem(body, line);
    return li;
  }

  function render(line) {
    lines[line.line] = line;
    var li = document.getElementById("line-" + line.line);
    if (li && li.parentNode === list) {
      if (captioner) {
        li.dataset.speaker = line.speaker || "";
        fillViewerItem(li.querySelector(".caption-body"), line);
      } else {
        fillViewerItem(li, line);
      }
      return;
    }
    li = captioner ? captionerItem(line) : viewerItem(line);
    li.dataset.speaker = line.speaker || "";
    var after = null;   // keep line order even if an edit of an older line arrives first
    Array.prototype.forEach.call(list.children, function (child) {
      if (!after && parseInt(child.dataset.line, 10) > line.line) { after = child; }
    });
    list.insertBefore(li, after);
    var empty = view.querySelector("[data-empty]");
    if (empty) { empty.remove(); }
  }

  function limit() {
    if (captioner) { return; }
    var count = parseInt(view.dataset.lines || "0", 10);
    var items = list.children;
    for (var i = 0; i < items.length; i++) { items[i].hidden = count > 0 && i < items.length - count; }
    var screen = view.querySelector(".captions-screen");
    if (screen) { screen.scrollTop = screen.scrollHeight; }
  }

  /* ---------------------------------------------------------------- the connection */

  var socket = io("/captions", {
    auth: function (callback) {
      var auth = { code: code, lang: view.dataset.lang };
      if (token) { auth.token = token; }
      if (seq > 0) { auth.since = seq; }
      callback(auth);
    },
    transports: ["websocket", "polling"]
  });
  window.captionsLive = true;

  socket.on("connect", function () { status(texts.connected); sendNext(); });
  socket.on("disconnect", function () { status(texts.offline); });
  socket.on("connect_error", function (error) {
    status(error && error.data && error.data.code === "unauthorized" ? texts.refused : texts.offline);
  });

  socket.on("snapshot", function (snap) {
    if (snap.since === undefined) {           // the whole transcript: start again from it
      list.textContent = "";
      lines = {};
    }
    snap.lines.forEach(render);
    seq = Math.max(seq, snap.seq);
    list.dataset.seq = seq;
    limit();
  });

  socket.on("caption", function (message) {
    if (message.seq <= seq) { return; }        // already in the snapshot
    var first = message.from || message.seq;   // a message read back from the database covers from..seq
    if (first > seq + 1) {                     // a change went missing: join again for what came after seq
      socket.disconnect().connect();
      return;
    }
    seq = message.seq;
    list.dataset.seq = seq;
    render(message.data);
    limit();
  });

  /* ---------------------------------------------------------------- viewer settings */

  function applySettings(settings) {
    ["m", "l", "xl", "xxl"].forEach(function (s) { view.classList.toggle("captions-size-" + s, settings.size === s); });
    ["dark", "light", "yellow"].forEach(function (t) { view.classList.toggle("captions-theme-" + t, settings.theme === t); });
    view.dataset.lines = settings.lines;
    if (region) { region.setAttribute("aria-live", settings.announce ? "polite" : "off"); }
    limit();
  }

  function readForm(form) {
    return { size: form.elements.size.value, theme: form.elements.theme.value, lines: form.elements.lines.value,
             announce: form.elements.namedItem("announce") && document.getElementById("cs-announce").checked };
  }

  var settingsForm = view.querySelector("[data-captions-settings]");
  if (settingsForm && view.dataset.remember) {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "null"); } catch (_e) { saved = null; }
    if (saved && !location.search) {          // choices in the address win over remembered ones
      settingsForm.elements.size.value = saved.size;
      settingsForm.elements.theme.value = saved.theme;
      settingsForm.elements.lines.value = saved.lines;
      document.getElementById("cs-announce").checked = !!saved.announce;
      applySettings(readForm(settingsForm));
    }
    settingsForm.addEventListener("change", function () {
      var settings = readForm(settingsForm);
      applySettings(settings);
      try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)); } catch (_e) { /* private mode */ }
    });
    settingsForm.addEventListener("submit", function (event) {
      event.preventDefault();
      settingsForm.dispatchEvent(new Event("change"));
    });
  }

  var toggle = view.querySelector("[data-announce-toggle]");
  if (toggle && region) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var on = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      toggle.textContent = on ? texts.announce_off : texts.announce_on;
      region.setAttribute("aria-live", on ? "polite" : "off");
    });
  }

  if (!captioner) { limit(); return; }

  /* ---------------------------------------------------------------- the captioner */

  var input = document.getElementById("caption-input");
  var form = document.getElementById("captioner-form");

  function speakerChoices() { return form.querySelectorAll("input[name=speaker]"); }

  function currentSpeaker() {
    var checked = form.querySelector("input[name=speaker]:checked");
    return checked ? checked.value : "";
  }

  function sendNext() {
    if (inFlight || !queue.length || !socket.connected) { return; }
    inFlight = true;
    var item = queue[0];
    socket.timeout(8000).emit(item.event, item.payload, function (error, answer) {
      inFlight = false;
      if (error) { status(texts.queued); setTimeout(sendNext, 500); return; }   // same op again: applied once
      queue.shift();
      if (answer && answer.ok) { status(texts.sent); } else if (answer && answer.error) { status(answer.error.message); }
      if (item.done) { item.done(answer); }
      sendNext();
    });
  }

  function enqueue(event, payload, done) {
    payload.op = newOp();
    queue.push({ event: event, payload: payload, done: done });
    if (!socket.connected) { status(texts.queued); }
    sendNext();
  }

  function commit() {
    var text = input.value.replace(/\s+/g, " ").trim();
    if (!text) { return; }
    var payload = { text: text };
    var speaker = currentSpeaker();
    if (speaker) { payload.speaker = speaker; }
    input.value = "";
    enqueue("caption:line", payload);
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); commit(); input.focus(); });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      commit();
    } else if (event.key === "Escape") {
      input.value = "";
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) { return; }
    var digit = /^Digit(\d)$/.exec(event.code || "") || /^Numpad(\d)$/.exec(event.code || "");
    if (digit) {
      var choice = document.getElementById("speaker-" + digit[1]);
      if (choice) {
        event.preventDefault();
        choice.checked = true;
        status(format(texts.speaker_now, { speaker: choice.value || texts.speaker_none }));
      }
    } else if (event.key === "ArrowUp") {
      var last = list.lastElementChild;
      if (last) { event.preventDefault(); startEdit(parseInt(last.dataset.line, 10)); }
    }
  });

  function startEdit(number) {
    var li = document.getElementById("line-" + number);
    if (!li || li.querySelector("form")) { return; }
    var line = lines[number] || { text: li.querySelector(".caption-text").textContent };
    var editor = document.createElement("form");
    editor.className = "inline-form caption-editor";
    var label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = "edit-" + number;
    label.textContent = format(texts.edit_line, { line: number });
    var field = document.createElement("input");
    field.id = "edit-" + number;
    field.maxLength = 500;
    field.value = line.text;
    var save = document.createElement("button");
    save.type = "submit";
    save.className = "secondary";
    save.textContent = texts.save;
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "link-button";
    cancel.textContent = texts.cancel;
    editor.append(label, field, save, cancel);
    li.appendChild(editor);
    field.focus();
    field.select();

    function close() { editor.remove(); input.focus(); }
    cancel.addEventListener("click", close);
    field.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); }
      if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) { event.preventDefault(); }
    });
    editor.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = field.value.replace(/\s+/g, " ").trim();
      if (!text) { field.focus(); return; }
      enqueue("caption:edit", { line: number, text: text }, function (answer) {
        if (answer && answer.ok) { status(texts.edited); }
      });
      close();
    });
  }

  // speaker labels: up to nine, kept on this device
  var labelsForm = document.getElementById("speaker-labels-form");
  var labelsField = document.getElementById("speaker-labels");

  function useLabels(labels) {
    var choices = document.getElementById("speaker-choices");
    var keep = currentSpeaker();
    Array.prototype.slice.call(choices.children, 1).forEach(function (li) { li.remove(); });
    labels.slice(0, 9).forEach(function (label, index) {
      var li = document.createElement("li");
      var radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "speaker";
      radio.id = "speaker-" + (index + 1);
      radio.value = label;
      radio.checked = label === keep;
      var text = document.createElement("label");
      text.htmlFor = radio.id;
      var key = document.createElement("kbd");
      key.textContent = String(index + 1);
      text.append(key, " " + label);
      li.append(radio, text);
      choices.appendChild(li);
    });
    if (!currentSpeaker() && !document.getElementById("speaker-0").checked) {
      document.getElementById("speaker-0").checked = true;
    }
  }

  if (labelsForm) {
    labelsForm.hidden = false;
    var stored = null;
    try { stored = JSON.parse(localStorage.getItem(LABELS_KEY) || "null"); } catch (_e) { stored = null; }
    if (stored && stored.length) { labelsField.value = stored.join("\n"); useLabels(stored); }
    labelsForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var labels = labelsField.value.split("\n").map(function (s) { return s.trim().slice(0, 20); })
        .filter(function (s) { return s; }).slice(0, 9);
      useLabels(labels);
      try { localStorage.setItem(LABELS_KEY, JSON.stringify(labels)); } catch (_e) { /* private mode */ }
      input.focus();
    });
  }
})();

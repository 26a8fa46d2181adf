/* ふりがな for text that arrives after the page (live captions, anything a script writes).
 *
 * Pages and the board's fragments get their ruby from the server already; a script that writes text
 * itself calls
 *     TaiwaRuby.render(element, text)      // returns a Promise, resolved once the element shows it
 * which sets the element's text at once and, while the reader's furigana switch is on
 * (<html data-ruby="on">), replaces it with ruby from POST /api/readings, read with the dictionary
 * of the organization whose content it is (the nearest data-reading-org, e.g. on <html>). Nodes are built with the
 * DOM (never innerHTML), with the same accessible markup as the server's: the <rt> is aria-hidden.
 */
(function () {
  "use strict";

  var on = document.documentElement.getAttribute("data-ruby") === "on";

  function rubyNodes(segments) {
    var fragment = document.createDocumentFragment();
    segments.forEach(function (segment) {
      (segment.parts || [{ text: segment.text }]).forEach(function (part) {
        if (!part.reading) { fragment.appendChild(document.createTextNode(part.text)); return; }
        var ruby = document.createElement("ruby");
        ruby.appendChild(document.createTextNode(part.text));
        var rt = document.createElement("rt");
        rt.setAttribute("aria-hidden", "true");
        rt.setAttribute("data-reading", part.reading);   // shown by the stylesheet, never page text
        ruby.appendChild(rt);
        fragment.appendChild(ruby);
      });
    });
    return fragment;
  }

  // the organization whose content this is (<html data-reading-org> or a marked region): its local names
  function body(element, text) {
    var region = element.closest ? element.closest("[data-reading-org]") : null;   // (none while detached)
    var org = (region || document.documentElement).getAttribute("data-reading-org");
    return org ? { text: text, org: org } : { text: text };
  }

  function render(element, text) {
    element.textContent = text;
    if (!on || !/[\u3400-\u9fff\uf900-\ufaff\u3005]/.test(text)) { return Promise.resolve(element); }
    return fetch("/api/readings", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body(element, text))
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (answer && element.textContent === text) {   // not changed again meanwhile
          element.textContent = "";
          element.appendChild(rubyNodes(answer.segments));
        }
        return element;
      })
      .catch(function () { return element; });          // the plain text stays
  }

  window.TaiwaRuby = { on: on, render: render, nodes: rubyNodes };
})();

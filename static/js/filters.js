// The session filters, when JavaScript runs (they work without it): the conditions stay open
// beside the results on a wide screen, and a filtered address carries only what was chosen
// (no `theme=&` left by empty fields), so a shared link stays short and readable.
(function () {
  "use strict";

  var WIDE = window.matchMedia("(min-width: 56rem)");

  function openOnWideScreens() {
    var panel = document.querySelector("details.filters-panel");
    if (panel && WIDE.matches) { panel.open = true; }
  }

  // htmx sends the form as it asks for results: drop the empty fields from what it sends
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.target.matches || !event.target.matches("form.filters")) { return; }
    var data = event.detail.formData;
    if (!data) { return; }
    var empty = [];
    data.forEach(function (value, key) {
      if (typeof value === "string" && value.trim() === "") { empty.push(key); }
    });
    empty.forEach(function (key) { delete event.detail.parameters[key]; });
  });

  // a plain submit (htmx not loaded): empty fields are left out of the address
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.filters") || window.htmx) { return; }
    form.querySelectorAll("input, select").forEach(function (field) {
      if (field.name && field.type !== "checkbox" && field.value.trim() === "") { field.disabled = true; }
    });
    window.setTimeout(function () {
      form.querySelectorAll("[disabled]").forEach(function (field) { field.disabled = false; });
    }, 0);
  });

  document.addEventListener("DOMContentLoaded", openOnWideScreens);
  WIDE.addEventListener("change", openOnWideScreens);
})();

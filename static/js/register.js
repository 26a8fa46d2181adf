// The registration form, made smoother when JavaScript runs (it works without it):
// children are taken only by people who come in person (a hybrid session's "Online" choice
// disables the child blocks), and after "Add a child" / "Remove" (swapped in place by htmx)
// the focus goes where the person continues.
(function () {
  "use strict";

  function form() { return document.querySelector("form.register-form"); }

  function online(f) {
    var chosen = f.querySelector('input[name="mode"]:checked');
    return chosen !== null && chosen.value === "online";
  }

  function applyMode() {
    var f = form();
    var children = f && document.getElementById("children");
    if (!children) { return; }
    var off = online(f);
    children.querySelectorAll("select, input, button").forEach(function (field) {
      if (field.type !== "hidden") { field.disabled = off; }
    });
    children.classList.toggle("children--off", off);
    var hint = document.getElementById("childcare-in-person");
    if (hint) { hint.classList.toggle("hint--active", off); }
  }

  var lastAction = "";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest('button[name="form_action"]');
    lastAction = button ? button.value : "";
  });

  document.addEventListener("change", function (event) {
    if (event.target.name === "mode") { applyMode(); }
  });

  document.addEventListener("htmx:afterSwap", function () {
    var children = document.getElementById("children");
    if (!children) { return; }
    applyMode();
    var blocks = children.querySelectorAll("fieldset.child");
    var target = null;
    if (lastAction === "add_child" && blocks.length) {
      target = blocks[blocks.length - 1].querySelector("select");
    } else if (lastAction.indexOf("remove_child_") === 0) {
      target = document.getElementById("add-child") || children.querySelector("select");
    }
    if (target) { target.focus(); }
    lastAction = "";
  });

  document.addEventListener("DOMContentLoaded", applyMode);
})();

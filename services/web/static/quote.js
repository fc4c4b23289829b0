// The order form: the quote asked of the platform again as the fields change, and drawn as the
// page draws it (the server computes every amount; nothing is computed here). Without
// JavaScript, the "Calculer" button sends the form and the page comes back with its quote.
(function () {
  "use strict";
  var form = document.getElementById("order-form");
  var panel = document.getElementById("quote");
  if (!form || !panel || !window.fetch) return;
  var url = form.getAttribute("data-quote-url");
  var timer = null;
  var asked = 0;

  function query() {
    var data = new FormData(form);
    var params = new URLSearchParams();
    data.forEach(function (value, name) {
      if (name !== "csrf_token" && name !== "action") params.append(name, value);
    });
    return params.toString();
  }

  function showErrors(errors) {
    var slots = form.querySelectorAll(".field-error");
    Array.prototype.forEach.call(slots, function (slot) {
      var name = slot.id.replace(/-error$/, "");
      var field = document.getElementById(name);
      var text = errors[name] || "";
      slot.textContent = text;
      slot.hidden = !text;
      if (field) {
        if (text) field.setAttribute("aria-invalid", "true");
        else field.removeAttribute("aria-invalid");
      }
    });
  }

  function ask() {
    var mine = ++asked;
    panel.setAttribute("aria-busy", "true");
    fetch(url + "?" + query(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (answer) {
        if (mine !== asked) return; // a newer question is on its way
        panel.innerHTML = answer.html;
        showErrors(answer.errors || {});
      })
      .catch(function () { /* the "Calculer" button still works */ })
      .then(function () { if (mine === asked) panel.removeAttribute("aria-busy"); });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 250);
  }

  // the co-funding application shows when it is asked for (without JavaScript: always)
  var box = document.getElementById("cofunding");
  var application = document.getElementById("cofunding-application");
  function toggle() { if (box && application) application.hidden = !box.checked; }
  if (box) box.addEventListener("change", toggle);
  toggle();

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.setAttribute("data-live-quote", "on");
})();

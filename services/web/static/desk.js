// The desk: scanning a coupon's QR code ("<serial>:<code>") with the camera or from a photo,
// with html5-qrcode (npm). It only fills the form: typing always works, and the server decides.
(function () {
  "use strict";
  var scan = document.getElementById("scan");
  var list = document.getElementById("coupons");
  var rows = document.getElementById("rows");
  if (!scan || !list || !window.apticScan) return;

  function emptyRow() {
    var items = list.querySelectorAll("li.coupon");
    for (var i = 0; i < items.length; i++) {
      var serial = items[i].querySelector("input[name^='serial_']");
      var code = items[i].querySelector("input[name^='code_']");
      if (!serial.value && !code.value) return items[i];
    }
    var last = items[items.length - 1];
    var index = items.length;
    var copy = last.cloneNode(true);
    copy.className = "coupon";
    copy.dataset.index = index;
    var outcome = copy.querySelector(".outcome");
    if (outcome) outcome.remove();
    copy.querySelectorAll("label").forEach(function (label) {
      var kind = label.htmlFor.split("_")[0];
      label.htmlFor = kind + "_" + index;
      label.textContent = label.textContent.replace(/\d+\s*$/, String(index + 1));
    });
    copy.querySelectorAll("input").forEach(function (input) {
      var kind = input.name.split("_")[0];
      input.name = input.id = kind + "_" + index;
      input.value = "";
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    list.appendChild(copy);
    rows.value = String(index + 1);
    return copy;
  }

  function found(text, say) {
    var parts = String(text).trim().split(":");
    if (parts.length !== 2) {
      say("msgNotCoupon");
      return;
    }
    var row = emptyRow();
    row.querySelector("input[name^='serial_']").value = parts[0];
    row.querySelector("input[name^='code_']").value = parts[1];
    say("msgAdded", parts[0]);
  }

  window.apticScan(found);
})();

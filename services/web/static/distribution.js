// The distributor's desk: scanning a booklet with the camera or from a photo (html5-qrcode, npm).
// A printed booklet carries its coupons' QR codes ("<coupon serial>:<code>"): the coupon's serial
// finds its booklet among those listed (assigned to this distributor), and the booklet's serial
// fills the form. The security code is dropped. Typing always works, and the server decides.
(function () {
  "use strict";
  var scan = document.getElementById("scan");
  var field = document.getElementById("serial");
  if (!scan || !field || !window.apticScan) return;

  // the coupon's sequence number: its 10 first digits (the 11th is a check digit)
  function sequence(serial) {
    return parseInt(String(serial).slice(0, 10), 10);
  }

  function bookletOf(coupon) {
    var wanted = sequence(coupon);
    var rows = document.querySelectorAll("#booklets tr[data-serial]");
    for (var i = 0; i < rows.length; i++) {
      var first = sequence(rows[i].dataset.first);
      var last = sequence(rows[i].dataset.last);
      if (first <= wanted && wanted <= last) return rows[i].dataset.serial;
    }
    return null;
  }

  function found(text, say) {
    var value = String(text).trim().toUpperCase().split(":")[0].replace(/[\s.\-]/g, "");
    if (/^B[0-9]{9}$/.test(value)) {
      field.value = value;
      say("msgFound", value);
      return;
    }
    if (!/^[0-9]{11}$/.test(value)) {
      say("msgNotBooklet");
      return;
    }
    var booklet = bookletOf(value);
    if (booklet) {
      field.value = booklet;
      say("msgFound", booklet);
    } else {
      field.value = value; // the server says why it cannot be handed out
      say("msgNotAssigned");
    }
  }

  window.apticScan(found);
})();

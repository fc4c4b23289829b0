// The confirmation page: print the beneficiary's rating slip (the print stylesheet keeps it alone).
(function () {
  "use strict";
  var button = document.getElementById("print-slip");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();

// Copy buttons: <button data-copy="ID"> copies the text of the element with that id. The button stays
// hidden without JavaScript (the text can still be selected by hand); a status beside it says "Copied".
(function () {
  "use strict";

  function say(id, text) {
    var status = document.querySelector('[data-copied-for="' + id + '"]');
    if (status) status.textContent = text;
  }

  function copyBySelection(source) {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var done = document.execCommand && document.execCommand("copy");
    return done;
  }

  function copy(button) {
    var id = button.getAttribute("data-copy");
    var source = document.getElementById(id);
    if (!source) return;
    var text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { say(id, "Copied."); },
        function () { say(id, copyBySelection(source) ? "Copied." : "Select it and copy by hand."); }
      );
    } else {
      say(id, copyBySelection(source) ? "Copied." : "Select it and copy by hand.");
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
})();

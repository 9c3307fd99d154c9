/* Copy buttons and a one-click guard for the API pages. Without JavaScript the values stay
   selectable and the forms work; the server refuses a second submit of the same form anyway,
   but the browser would then show that refusal instead of the page with the new secret. */
(function () {
  "use strict";

  function copy(input) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(input.value);
    }
    input.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(input).then(
        function () {
          status.textContent = "Copied to the clipboard.";
        },
        function () {
          input.select();
          status.textContent = "Could not copy: the text is selected, copy it with Ctrl+C.";
        }
      );
    });
  });

  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
    });
  });
})();

/* Billing pages: a "pay now" form is sent once, whatever the clicks. The server refuses a
   second submit of the same form anyway (a one-time token); this spares the refusal page. */
(function () {
  "use strict";

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

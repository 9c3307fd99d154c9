/* The "Add a card" form. Stripe.js (settings.STRIPE_JS_URL: the real one in production,
   localstripe's fake in development and tests) draws the card field and confirms the
   SetupIntent the server created; the card number goes from the browser to Stripe only. Then
   this posts the id of the payment method Stripe made, and the server saves it as the
   provider's default card. The page's data comes from a json_script block, so a strict
   Content-Security-Policy needs no exception for inline scripts. */
(function () {
  "use strict";

  var form = document.getElementById("card-form");
  var dataNode = document.getElementById("card-setup-data");
  if (!form || !dataNode) {
    return;
  }
  var data = JSON.parse(dataNode.textContent);
  var button = document.getElementById("card-submit");
  var errors = document.getElementById("card-errors");
  var errorText = document.getElementById("card-error-text");
  var status = document.getElementById("card-status");

  function showError(message) {
    errorText.textContent = message;
    errors.hidden = false;
    status.textContent = "";
  }

  function clearErrors() {
    errors.querySelectorAll(".usa-alert__text").forEach(function (node) {
      node.textContent = "";
    });
    errors.hidden = true;
  }

  if (typeof window.Stripe !== "function") {
    showError(
      "The card field could not be loaded from our payment processor. Reload the page, or pay " +
        "by wire transfer or check."
    );
    return;
  }

  var stripe = window.Stripe(data.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  card.on("change", function (event) {
    // Real Stripe.js reports typing errors here; the fake calls this with no event.
    if (event && event.error) {
      showError(event.error.message);
    } else if (!errors.hidden && event) {
      clearErrors();
    }
  });
  button.disabled = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) {
      return;
    }
    button.disabled = true;
    clearErrors();
    status.textContent = "Checking the card with Stripe…";
    stripe
      .confirmCardSetup(data.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error || !result.setupIntent) {
          var message = result.error && result.error.message;
          showError(
            message && typeof message === "string"
              ? "The card was not accepted: " + message
              : "The card was not accepted. Check the number, expiry and security code."
          );
          button.disabled = false;
          return;
        }
        form.elements.payment_method_id.value = result.setupIntent.payment_method;
        status.textContent = "The card is accepted; saving it…";
        // form.submit() fires no submit event: the page is sent once, as a normal POST.
        form.submit();
      })
      .catch(function () {
        showError("Our payment processor did not answer. Try again in a moment.");
        button.disabled = false;
      });
  });
})();

/* Draws the aging report's bar chart (billing.admin.InvoiceAdmin.aging_view) with the vendored
   Chart.js, from the page's <script type="application/json"> data: no inline script, so a strict
   Content-Security-Policy needs no exception. The table under the chart has the same numbers. */
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("aging-chart");
    var source = document.getElementById("aging-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var colours = ["#005ea2", "#b50909", "#2e8540", "#e5a000"];
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, index) {
          return {
            label: "Amount due (" + set.label + ")",
            data: set.data.map(Number),
            backgroundColor: colours[index % colours.length],
          };
        }),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: still ? false : undefined,
        scales: { y: { beginAtZero: true } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

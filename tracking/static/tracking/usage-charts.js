/* Draws the API page's usage charts with the vendored Chart.js, from the data the page holds in
   <script type="application/json"> elements (json_script): no inline script, so a strict
   Content-Security-Policy needs no exception. Each chart has a data table under it, which is
   all there is when JavaScript or Chart.js is missing. */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") {
    return;
  }
  var ALLOWED = "#005ea2"; // USWDS primary
  var DENIED = "#b50909"; // USWDS secondary-dark
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function read(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // Long texts become several short lines, so the axis stays narrow on a phone.
  function wrap(text, width) {
    var lines = [];
    var line = "";
    text.split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    });
    if (line) {
      lines.push(line);
    }
    return lines;
  }

  var common = {
    responsive: true,
    maintainAspectRatio: false,
    animation: still ? false : undefined,
    plugins: { legend: { position: "bottom" } },
  };

  var usage = read("usage-chart-data");
  var usageCanvas = document.getElementById("usage-chart");
  if (usage && usageCanvas) {
    new window.Chart(usageCanvas, {
      type: "bar",
      data: {
        labels: usage.labels.map(function (day) {
          return day.slice(5); // MM-DD; the table has the full dates
        }),
        datasets: [
          { label: "Allowed", data: usage.allowed, backgroundColor: ALLOWED },
          { label: "Denied", data: usage.denied, backgroundColor: DENIED },
        ],
      },
      options: Object.assign({}, common, {
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
      }),
    });
  }

  var reasons = read("reasons-chart-data");
  var reasonsCanvas = document.getElementById("reasons-chart");
  if (reasons && reasonsCanvas) {
    // The axis names each reason by its code (short); the tooltip and the table give the text.
    var narrow = reasonsCanvas.parentElement.clientWidth < 500;
    new window.Chart(reasonsCanvas, {
      type: "bar",
      data: {
        labels: reasons.codes.map(function (code) {
          return wrap(code.split("_").join(" "), narrow ? 14 : 28);
        }),
        datasets: [{ label: "Denied calls", data: reasons.calls, backgroundColor: DENIED }],
      },
      options: Object.assign({}, common, {
        indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) {
                return wrap(reasons.labels[items[0].dataIndex], 40);
              },
            },
          },
        },
      }),
    });
  }
})();

// Draws the insights charts with Chart.js from the figures the page embeds as JSON.
// Without JavaScript the page still shows every figure in its tables.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("insights-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var common = { responsive: true, maintainAspectRatio: false, animation: false };
    new Chart(document.getElementById("chart-weekly"), {
      data: {
        labels: data.weeks,
        datasets: [
          { type: "bar", label: "Incidents", data: data.weekly_counts, yAxisID: "count",
            backgroundColor: "#4a154b" },
          { type: "line", label: "Median to resolve (h)", data: data.weekly_resolve_median,
            yAxisID: "hours", borderColor: "#e01e5a", backgroundColor: "#e01e5a", spanGaps: true }
        ]
      },
      options: Object.assign({}, common, {
        scales: {
          count: { type: "linear", position: "left", beginAtZero: true, ticks: { precision: 0 } },
          hours: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false } }
        }
      })
    });
    new Chart(document.getElementById("chart-measures"), {
      type: "bar",
      data: {
        labels: data.measures,
        datasets: [
          { label: "Median (h)", data: data.medians, backgroundColor: "#36c5f0" },
          { label: "p90 (h)", data: data.p90s, backgroundColor: "#ecb22e" }
        ]
      },
      options: Object.assign({}, common, { scales: { y: { beginAtZero: true } } })
    });
    new Chart(document.getElementById("chart-severity"), {
      type: "bar",
      data: {
        labels: data.severities,
        datasets: [{ label: "Incidents", data: data.severity_counts,
          backgroundColor: ["#e01e5a", "#ecb22e", "#36c5f0", "#9e9e9e"] }]
      },
      options: Object.assign({}, common, { plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } })
    });
    document.body.setAttribute("data-charts", "drawn");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

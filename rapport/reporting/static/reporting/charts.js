/* Draws every report chart on the page with the vendored Chart.js. The data comes from a
   json_script element named by the figure's data-report-chart attribute (no inline script
   under the Content-Security-Policy); a click on a bar, point or slice opens the records
   behind it. Charts drawn by htmx swaps (the builder's preview) are drawn the same way. */
(function () {
  "use strict";
  var PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6",
    "#14b8a6", "#f97316", "#64748b", "#ec4899", "#84cc16", "#06b6d4"];

  function formatter(decimals) {
    var format = new Intl.NumberFormat(document.documentElement.lang || undefined,
      { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    return function (value) { return format.format(value); };
  }

  function draw(figure) {
    var source = document.getElementById(figure.getAttribute("data-report-chart"));
    var canvas = figure.querySelector("canvas");
    if (!source || !canvas || !window.Chart) { return; }
    var existing = window.Chart.getChart(canvas);
    if (existing) { existing.destroy(); }
    var data = JSON.parse(source.textContent);
    var pie = data.type === "pie";
    var format = formatter(data.decimals || 0);
    var datasets = data.datasets.map(function (set, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: set.label,
        data: set.data,
        urls: set.urls,
        backgroundColor: pie ? data.labels.map(function (_, j) { return PALETTE[j % PALETTE.length]; }) : colour,
        borderColor: pie ? "#fff" : colour,
        fill: false,
        tension: 0.2
      };
    });
    var chart = new window.Chart(canvas, {
      type: data.type,
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: pie || datasets.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: function (ctx) {
            var value = pie ? ctx.parsed : (ctx.parsed.y !== undefined ? ctx.parsed.y : ctx.parsed);
            return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + format(value);
          } } }
        },
        scales: pie ? {} : {
          x: { stacked: !!data.stacked },
          y: { stacked: !!data.stacked, beginAtZero: true, ticks: { callback: function (v) { return format(v); } } }
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (!elements.length) { return; }
          var hit = elements[0];
          var url = chart.data.datasets[hit.datasetIndex].urls[hit.index];
          if (url) { window.location.assign(url); }
        }
      }
    });
    figure.setAttribute("data-chart-ready", "true");
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-report-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();

/* Draws every report chart on the page with the vendored Chart.js. The data is the JSON in
   the figure's data-report-chart attribute (no inline script under the
   Content-Security-Policy, and htmx drops <script> elements from what it swaps in); a
   click on a bar, point or slice opens the records behind it. Charts that htmx swaps in
   (the builder's preview) are drawn the same way. */
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
    var canvas = figure.querySelector("canvas");
    if (!canvas || !window.Chart) { return; }
    var existing = window.Chart.getChart(canvas);
    if (existing) { existing.destroy(); }
    var data = JSON.parse(figure.getAttribute("data-report-chart"));
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
  // htmx:load fires on each piece of content htmx swaps in (the builder's preview).
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();

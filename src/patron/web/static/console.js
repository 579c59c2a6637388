/* The console's only script besides the vendored ones: charts from JSON blocks, small HTMX glue.
   Chart data sits in <script type="application/json" id="…"> blocks (not executed, so the CSP
   that forbids inline scripts is kept); each chart element names its block in data-chart. */
(function () {
  "use strict";

  function readJson(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  }

  function yuan(fen) { return (fen / 100).toFixed(2); }

  function lineChart(el, data) {
    return {
      tooltip: { trigger: "axis" },
      legend: { data: [data.labels.sales, data.labels.orders] },
      grid: { left: 60, right: 50, top: 40, bottom: 30 },
      xAxis: { type: "category", data: data.days },
      yAxis: [
        { type: "value", name: data.labels.sales_axis },
        { type: "value", name: data.labels.orders, splitLine: { show: false } }
      ],
      series: [
        { name: data.labels.sales, type: "line", data: data.sales_fen.map(yuan) },
        { name: data.labels.orders, type: "bar", yAxisIndex: 1, data: data.orders, itemStyle: { opacity: 0.35 } }
      ]
    };
  }

  function pieChart(el, data) {
    return {
      tooltip: { trigger: "item" },
      series: [{
        type: "pie", radius: ["35%", "65%"],
        data: data.items.map(function (it) { return { name: it.name, value: yuan(it.sales_fen) }; })
      }]
    };
  }

  var KINDS = { line: lineChart, pie: pieChart };

  function drawCharts(root) {
    if (typeof window.echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var data = readJson(el.getAttribute("data-chart"));
      var make = KINDS[el.getAttribute("data-kind") || "line"];
      if (!data || !make) { return; }
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el);
      chart.setOption(make(el, data));
      el.setAttribute("data-drawn", "1");
    });
  }

  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-drawn]").forEach(function (el) {
      var chart = window.echarts && window.echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });

  /* A refused or failed HTMX request: say so where the answer would have gone. */
  document.addEventListener("htmx:responseError", function (event) {
    var target = event.detail.target;
    var status = event.detail.xhr.status;
    if (!target) { return; }
    var box = document.createElement("p");
    box.className = "error htmx-error";
    var message = document.body.getAttribute("data-error-" + status) || document.body.getAttribute("data-error-other");
    box.textContent = message + " (" + status + ")";
    target.prepend(box);
  });
})();

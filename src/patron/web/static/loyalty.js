/* Bar charts for the loyalty pages, from JSON blocks like console.js's (no inline scripts: CSP).
   An element with data-chart="<json block id>" data-kind="bar" is drawn here; console.js
   draws the line and pie kinds and leaves this one alone. */
(function () {
  "use strict";

  function drawBars(root) {
    if (typeof window.echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart][data-kind='bar']").forEach(function (el) {
      var block = document.getElementById(el.getAttribute("data-chart"));
      if (!block) { return; }
      var data = JSON.parse(block.textContent);
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el);
      chart.setOption({
        tooltip: { trigger: "axis" },
        grid: { left: 50, right: 20, top: 30, bottom: 30 },
        xAxis: { type: "category", data: data.names },
        yAxis: { type: "value", name: data.label, minInterval: 1 },
        series: [{ name: data.label, type: "bar", data: data.values }]
      });
      el.setAttribute("data-drawn", "1");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawBars(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawBars(event.target); });
})();

/* The uplift chart of a campaign's page, from its JSON block (no inline scripts: CSP):
   conversion rate and net sales per customer, treated against holdout, and the interval of
   the difference in the chart's title. */
(function () {
  "use strict";
  function draw() {
    if (typeof window.echarts === "undefined") { return; }
    var el = document.getElementById("uplift-chart");
    var block = document.getElementById("uplift-data");
    if (!el || !block) { return; }
    var data = JSON.parse(block.textContent);
    var chart = window.echarts.init(el);
    chart.setOption({
      title: { text: data.uplift[1] + " (" + data.uplift[0] + " … " + data.uplift[2] + ")", left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, data: [data.labels.rate, data.labels.sales] },
      xAxis: { type: "category", data: [data.labels.treated, data.labels.holdout] },
      yAxis: [{ type: "value", name: data.labels.rate }, { type: "value", name: data.labels.sales, splitLine: { show: false } }],
      series: [
        { name: data.labels.rate, type: "bar", data: data.rates },
        { name: data.labels.sales, type: "bar", yAxisIndex: 1, data: data.sales }
      ]
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
})();

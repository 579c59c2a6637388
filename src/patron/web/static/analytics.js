/* Charts of the analytics pages, from JSON blocks like console.js's (no inline scripts: CSP).
   An element with data-chart="<json block id>" and a data-kind starting "a-" is drawn here;
   console.js draws its own kinds and leaves these alone. */
(function () {
  "use strict";

  function yuan(fen) { return (fen / 100).toFixed(2); }

  function segments(data) {
    return {
      tooltip: { trigger: "axis" },
      legend: { data: [data.labels.customers, data.labels.value] },
      grid: { left: 60, right: 70, top: 40, bottom: 70 },
      xAxis: { type: "category", data: data.names, axisLabel: { interval: 0, rotate: 20 } },
      yAxis: [
        { type: "value", name: data.labels.customers, minInterval: 1 },
        { type: "value", name: data.labels.value, splitLine: { show: false } }
      ],
      series: [
        { name: data.labels.customers, type: "bar", data: data.customers },
        { name: data.labels.value, type: "bar", yAxisIndex: 1, data: data.monetary_fen.map(yuan), itemStyle: { opacity: 0.45 } }
      ]
    };
  }

  // Customers per lifecycle stage, in the stages' own order from first contact to gone.
  // Bars rather than a funnel: later stages are often larger than earlier ones.
  function funnel(data) {
    var names = data.items.map(function (it) { return it.name; });
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 10, right: 60, top: 10, bottom: 10, containLabel: true },
      xAxis: { type: "value", minInterval: 1, axisLabel: { show: false }, splitLine: { show: false } },
      yAxis: { type: "category", data: names, inverse: true, axisTick: { show: false } },
      series: [{
        type: "bar", barCategoryGap: "25%",
        label: { show: true, position: "right" },
        data: data.items.map(function (it) { return it.value; })
      }]
    };
  }

  // Retention by first-purchase month. The month of the first purchase is 100 % by
  // definition: it is drawn apart in one colour, and the colour scale spans the later
  // months only, so their differences show.
  function heatmap(data) {
    var first = data.cells.filter(function (c) { return c[0] === 0; });
    var later = data.cells.filter(function (c) { return c[0] !== 0; });
    var top = Math.max.apply(null, later.map(function (c) { return c[2]; }).concat([1]));
    var labels = { show: data.months.length <= 18 };
    return {
      tooltip: {
        position: "top",
        formatter: function (p) {
          return data.months[p.value[1]] + " · +" + p.value[0] + ": " + p.value[2] + "%";
        }
      },
      grid: { left: 40, right: 90, top: 20, bottom: 50, containLabel: true },
      xAxis: { type: "category", data: data.since, name: data.labels.since, nameLocation: "middle", nameGap: 30, splitArea: { show: true } },
      yAxis: { type: "category", data: data.months, name: data.labels.cohort, nameLocation: "middle", nameGap: 62, nameRotate: 90, splitArea: { show: true } },
      visualMap: {
        seriesIndex: 0, min: 0, max: top, orient: "vertical", right: 10, top: "middle",
        text: [top + "%", "0%"], inRange: { color: ["#f7fbff", "#6baed6", "#08306b"] }
      },
      series: [
        { name: data.labels.retention, type: "heatmap", data: later, label: labels },
        { name: data.labels.retention, type: "heatmap", data: first, label: labels, itemStyle: { color: "#c6dbef" } }
      ]
    };
  }

  function histogram(data) {
    return {
      tooltip: { trigger: "axis" },
      grid: { left: 50, right: 20, top: 30, bottom: 60 },
      xAxis: { type: "category", data: data.names, name: data.axis, nameLocation: "middle", nameGap: 45, axisLabel: { interval: 0, rotate: 25 } },
      yAxis: { type: "value", name: data.label, minInterval: 1 },
      series: [{ name: data.label, type: "bar", barCategoryGap: "5%", data: data.values }]
    };
  }

  function calibration(data) {
    return {
      tooltip: { trigger: "item" },
      legend: { data: [data.labels.observed, data.labels.ideal] },
      grid: { left: 55, right: 20, top: 40, bottom: 45 },
      xAxis: { type: "value", min: 0, max: 1, name: data.labels.predicted, nameLocation: "middle", nameGap: 28 },
      yAxis: { type: "value", min: 0, max: 1, name: data.labels.observed },
      series: [
        { name: data.labels.observed, type: "line", data: data.points, symbolSize: 8 },
        { name: data.labels.ideal, type: "line", data: [[0, 0], [1, 1]], symbol: "none", lineStyle: { type: "dashed" } }
      ]
    };
  }

  // Rules by support (x) and confidence (y), each dot sized by its lift.
  function rules(data) {
    var top = Math.max.apply(null, data.points.map(function (p) { return p[2]; }).concat([1]));
    return {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          return window.echarts.format.encodeHTML(data.names[p.dataIndex]) + "<br>" + data.labels.support + " " + p.value[0] +
            " · " + data.labels.confidence + " " + p.value[1] + " · " + data.labels.lift + " " + p.value[2];
        }
      },
      grid: { left: 60, right: 30, top: 40, bottom: 50 },
      xAxis: { type: "value", name: data.labels.support, nameLocation: "middle", nameGap: 28, scale: true },
      yAxis: { type: "value", name: data.labels.confidence, max: 100 },
      series: [{
        type: "scatter", data: data.points,
        symbolSize: function (p) { return 6 + 18 * p[2] / top; }
      }]
    };
  }

  // The forecast's median line over its interval, drawn as a band stacked on the lower bound.
  function forecast(data) {
    var lower = data.lower_fen.map(yuan);
    var width = data.upper_fen.map(function (u, i) { return ((u - data.lower_fen[i]) / 100).toFixed(2); });
    return {
      tooltip: { trigger: "axis" },
      legend: { data: [data.labels.forecast, data.labels.band] },
      grid: { left: 70, right: 20, top: 40, bottom: 40 },
      xAxis: { type: "category", data: data.days, boundaryGap: false },
      yAxis: { type: "value", name: data.labels.axis },
      series: [
        { name: "lower", type: "line", stack: "band", data: lower, symbol: "none",
          lineStyle: { opacity: 0 }, tooltip: { show: false } },
        { name: data.labels.band, type: "line", stack: "band", data: width, symbol: "none",
          lineStyle: { opacity: 0 }, areaStyle: { opacity: 0.25 } },
        { name: data.labels.forecast, type: "line", data: data.forecast_fen.map(yuan), symbol: "none" }
      ]
    };
  }

  var KINDS = {
    "a-rules": rules, "a-forecast": forecast,
    "a-segments": segments, "a-funnel": funnel, "a-heatmap": heatmap,
    "a-histogram": histogram, "a-calibration": calibration
  };

  function draw(root) {
    if (typeof window.echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart][data-kind^='a-']").forEach(function (el) {
      var make = KINDS[el.getAttribute("data-kind")];
      var block = document.getElementById(el.getAttribute("data-chart"));
      if (!make || !block) { return; }
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el);
      chart.setOption(make(JSON.parse(block.textContent)));
      el.setAttribute("data-drawn", "1");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();

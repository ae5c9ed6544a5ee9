// Makes the server's SVG charts interactive where script runs: hover shows each line's value at that time,
// dragging across a chart zooms into it, a double click zooms back out. The data is the figure's
// data-chart attribute (JSON the server wrote and escaped); uPlot (vendored, MIT) draws it. Without
// script, or if anything here fails, the SVG the server drew stays as it is.
(function () {
  "use strict";
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700"];
  var JST = 9 * 3600;
  var EN = document.documentElement.lang === "en";
  function p(n) { return (n < 10 ? "0" : "") + n; }
  function label(ts, step) {
    var d = new Date((ts + JST) * 1000);
    var day = d.getUTCFullYear() + "/" + p(d.getUTCMonth() + 1) + "/" + p(d.getUTCDate());
    return step >= 86400 ? day : day + " " + p(d.getUTCHours()) + ":" + p(d.getUTCMinutes());
  }
  function tick(ts, span) {  // an axis label: the time of day within two days, else the date
    var d = new Date((ts + JST) * 1000);
    return span <= 2 * 86400 ? p(d.getUTCHours()) + ":" + p(d.getUTCMinutes()) : p(d.getUTCMonth() + 1) + "/" + p(d.getUTCDate());
  }
  var STEPS = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000];
  function xsplits(min, max, px) {  // round JST times (every 3 h, midnight, ...) at least 70 px apart
    var span = max - min, want = Math.max(2, Math.floor(px / 70)), step = STEPS[STEPS.length - 1];
    for (var i = 0; i < STEPS.length; i++) { if (span / STEPS[i] <= want) { step = STEPS[i]; break; } }
    var out = [], first = Math.ceil((min + JST) / step) * step - JST;
    for (var t = first; t <= max; t += step) { out.push(t); }
    return out;
  }
  function fmt(v) {
    if (v === null || v === undefined) { return "—"; }
    return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("ja-JP") : v.toFixed(1);
  }
  function enhance(fig) {
    if (typeof uPlot === "undefined") { return; }
    var svg = fig.querySelector("svg.chart");
    var raw = fig.getAttribute("data-chart");
    if (!svg || !raw) { return; }
    var d = JSON.parse(raw);
    if (!d.t || !d.t.length) { return; }
    var unit = fig.getAttribute("data-unit") || "";
    var data = [d.t];
    var series = [{ label: EN ? "Time" : "時刻", value: function (u, ts) { return ts === null ? "—" : label(ts, d.step); } }];
    d.lines.forEach(function (ln, i) {
      data.push(ln.v);
      series.push({ label: ln.label, stroke: COLORS[i % COLORS.length], width: 1.6, spanGaps: false,
                    value: function (u, v) { return fmt(v) + " " + unit; } });
    });
    var holder = document.createElement("div");
    holder.className = "uplot-holder";
    svg.replaceWith(holder);
    var width = function () { return Math.max(280, holder.clientWidth || fig.clientWidth - 24); };
    var plot = new uPlot({
      width: width(), height: 240, series: series,
      cursor: { drag: { x: true, y: false } },
      hooks: { setScale: [function (u, key) {
        if (key === "x") { fig.setAttribute("data-x-range", Math.round(u.scales.x.min) + "-" + Math.round(u.scales.x.max)); }
      }] },
      scales: { x: { time: false }, y: { range: [0, d.top] } },
      axes: [{ space: 70, splits: function (u) { return xsplits(u.scales.x.min, u.scales.x.max, u.bbox.width / devicePixelRatio); },
               values: function (u, ticks) {
                 var span = u.scales.x.max - u.scales.x.min;
                 return ticks.map(function (t) { return tick(t, span); }); } },
             { size: 52, splits: function () { var out = []; for (var v = 0; v <= d.top + 1e-9; v += d.tick) { out.push(v); } return out; },
               values: function (u, vals) { return vals.map(function (v) { return d.tick >= 1 ? Math.round(v).toLocaleString("ja-JP") : String(+v.toFixed(6)); }); } }],
    }, data, holder);
    fig.setAttribute("data-interactive", "true");
    holder.addEventListener("dblclick", function () { plot.setData(data); });
    window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 240 }); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("figure.chart[data-chart]").forEach(function (fig) {
      try { enhance(fig); } catch (e) { fig.removeAttribute("data-interactive"); }
    });
  });
})();

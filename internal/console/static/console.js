// Sightline Console: hover values, heatmap click-through and live
// refresh. The pages work without it.
(function () {
  "use strict";
  var tip = null;
  function showTip(text, ev) {
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "tip";
      document.body.appendChild(tip);
    }
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = (ev.clientX + 12) + "px";
    tip.style.top = (ev.clientY + 12) + "px";
  }
  function hideTip() { if (tip) { tip.style.display = "none"; } }

  function svgPoint(svg, ev) {
    var m = svg.getScreenCTM();
    if (!m) { return null; }
    var p = svg.createSVGPoint();
    p.x = ev.clientX; p.y = ev.clientY;
    return p.matrixTransform(m.inverse());
  }
  function fmt(v, kind) {
    if (!isFinite(v)) { return "–"; }
    if (kind === "pct") { return (v * 100).toFixed(2) + "%"; }
    if (kind === "ms") { return Math.round(v) + " ms"; }
    if (kind === "usd") { return "$" + v.toPrecision(3); }
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  }
  function pathPoints(path) {
    if (path._pts) { return path._pts; }
    var pts = [], re = /[ML]\s*([-\d.]+)\s+([-\d.]+)/g, m;
    var d = path.getAttribute("d") || "";
    while ((m = re.exec(d)) !== null) { pts.push([parseFloat(m[1]), parseFloat(m[2])]); }
    path._pts = pts;
    return pts;
  }
  // Charts: the axes' data attributes turn coordinates back into values.
  function chartHover(svg, ev) {
    var p = svgPoint(svg, ev);
    if (!p) { return; }
    var L = 52, R = 550, T = 10, B = 148;
    if (p.x < L || p.x > R) { hideTip(); return; }
    var x0 = +svg.dataset.x0, x1 = +svg.dataset.x1, y0 = +svg.dataset.y0, y1 = +svg.dataset.y1;
    var t = x0 + (p.x - L) / (R - L) * (x1 - x0);
    var lines = [new Date(t * 1000).toISOString().slice(11, 19) + " UTC"];
    svg.querySelectorAll("path.ln").forEach(function (path) {
      var best = null;
      pathPoints(path).forEach(function (q) {
        if (best === null || Math.abs(q[0] - p.x) < Math.abs(best[0] - p.x)) { best = q; }
      });
      if (best && Math.abs(best[0] - p.x) < 20) {
        var v = y0 + (1 - (best[1] - T) / (B - T)) * (y1 - y0);
        lines.push((path.dataset.n || "") + ": " + fmt(v, svg.dataset.fmt));
      }
    });
    showTip(lines.join("\n"), ev);
  }
  function heatCell(svg, ev) {
    var p = svgPoint(svg, ev);
    if (!p) { return null; }
    var cw = +svg.dataset.cw, ch = +svg.dataset.ch, x0 = +svg.dataset.x0;
    var rows = svg.dataset.rows.split(","), cols = svg.dataset.cols.split(",");
    var c = Math.floor((p.x - x0) / cw), r = Math.floor(p.y / ch);
    if (c < 0 || c >= cols.length || r < 0 || r >= rows.length) { return null; }
    var tips = (svg.dataset.tips || "").split("~");
    var tipRow = (tips[r] || "").split("|");
    return { feature: rows[r], at: cols[c], tip: tipRow[c] || "" };
  }
  document.addEventListener("mousemove", function (ev) {
    var svg = ev.target.closest ? ev.target.closest("svg.chart, svg.heat") : null;
    if (!svg) { hideTip(); return; }
    if (svg.classList.contains("chart")) { chartHover(svg, ev); return; }
    var cell = heatCell(svg, ev);
    if (cell && cell.tip) { showTip(cell.tip, ev); } else { hideTip(); }
  });
  document.addEventListener("click", function (ev) {
    var svg = ev.target.closest ? ev.target.closest("svg.heat") : null;
    if (!svg || ev.target.closest("a")) { return; }
    var cell = heatCell(svg, ev);
    if (cell && cell.tip) {
      location.href = svg.dataset.href.replace("{f}", encodeURIComponent(cell.feature)).replace("{t}", cell.at);
    }
  });

  // Live: ask the server what changed (one shared read for all tabs) and
  // re-render the page's main part when something did.
  var every = +document.body.dataset.refresh;
  if (!every || !window.fetch) { return; }
  var badge = document.getElementById("live");
  var stamp = null, busy = false;
  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch("/live", { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (j) {
      if (!j) { return null; }
      if (stamp === null || j.stamp === stamp) { stamp = j.stamp; return null; }
      stamp = j.stamp;
      return fetch(location.href, { cache: "no-store" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main"), cur = document.getElementById("main");
        if (fresh && cur) { cur.replaceWith(fresh); }
        var ff = doc.querySelector("footer"), cf = document.querySelector("footer");
        if (ff && cf) { cf.replaceWith(ff); }
      });
    }).catch(function () { /* offline for a moment: try again next time */ }).then(function () { busy = false; });
  }
  if (badge) { badge.hidden = false; badge.classList.add("on"); }
  refresh();
  setInterval(refresh, every);
})();

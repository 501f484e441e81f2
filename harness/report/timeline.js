/* etcd-harness report timeline: canvas, no dependencies, no network.
 * Ops arrive as columnar arrays (see harness/report/html.py timeline_data); only the
 * visible time window is drawn, with bars that share a pixel merged, so zoom and pan
 * stay smooth at 60k operations. #report-status says whether rendering succeeded. */
(function () {
  "use strict";
  var statusEl = document.getElementById("report-status");
  function fail(msg) {
    statusEl.setAttribute("data-status", "error");
    statusEl.setAttribute("data-error", msg);
    var b = document.getElementById("js-error");
    if (b) { b.hidden = false; b.textContent = "Timeline script error: " + msg; }
  }
  window.addEventListener("error", function (e) { fail(String(e.message || e)); });

  var COLORS = ["#3d8b3d", "#e69138", "#8e63c7"];
  var STATUS = ["ok", "fail", "unknown"];
  var WATCH_COLORS = { request: "#1f77b4", created: "#1f77b4", events: "#17becf", progress: "#9aa5b1", canceled: "#d62728", error: "#d62728" };
  var LEFT = 96, TOP = 30, BOTTOM = 24;

  function prefixSum(a) {
    var out = new Float64Array(a.length), s = 0;
    for (var i = 0; i < a.length; i++) { s += a[i]; out[i] = s; }
    return out;
  }

  function main() {
    var t0 = performance.now();
    var D = JSON.parse(document.getElementById("report-data").textContent);
    var O = D.ops, n = O.id.length;
    var ids = prefixSum(O.id), call = prefixSum(O.call), ret = new Float64Array(n);
    var open = new Uint8Array(n);
    for (var i = 0; i < n; i++) {
      if (O.dur[i] < 0) { ret[i] = D.end; open[i] = 1; } else { ret[i] = call[i] + O.dur[i]; }
    }
    var index = new Map();
    for (i = 0; i < n; i++) index.set(ids[i], i);
    var nl = D.lanes.length;
    var laneOps = [], laneOpen = [], laneMax = new Float64Array(nl);
    for (var l = 0; l < nl; l++) { laneOps.push([]); laneOpen.push([]); }
    for (i = 0; i < n; i++) {
      laneOps[O.lane[i]].push(i);
      if (open[i]) laneOpen[O.lane[i]].push(i);
      else laneMax[O.lane[i]] = Math.max(laneMax[O.lane[i]], ret[i] - call[i]);
    }
    var W = D.watch, wn = W.t.length, laneWatch = [];
    for (l = 0; l < nl; l++) laneWatch.push([]);
    for (i = 0; i < wn; i++) laneWatch[W.lane[i]].push(i);

    var viol = new Uint8Array(n), prefixPos = new Int32Array(n).fill(-1);
    var violIdx = [];
    D.marks.violating.forEach(function (id) { var k = index.get(id); if (k !== undefined) { viol[k] = 1; violIdx.push(k); } });
    D.marks.prefix.forEach(function (id, pos) { var k = index.get(id); if (k !== undefined) prefixPos[k] = pos; });
    var relatedIdx = [], related = new Uint8Array(n);
    (D.marks.related || []).forEach(function (id) { var k = index.get(id); if (k !== undefined) { related[k] = 1; relatedIdx.push(k); } });

    var canvas = document.getElementById("timeline");
    var tip = document.getElementById("tooltip");
    var sel = document.getElementById("selection");
    var ctx = canvas.getContext("2d");
    var laneH = Math.max(6, Math.min(18, Math.floor(620 / Math.max(1, nl))));
    var cssW = 0, cssH = TOP + nl * laneH + BOTTOM;
    var span0 = Math.max(1, D.end - D.start), pad = span0 * 0.01;
    var view = { a: D.start - pad, b: D.end + pad };
    var showPrefix = false, selected = -1, marked = {};
    var pending = false;

    function resize() {
      var dpr = window.devicePixelRatio || 1;
      cssW = Math.max(300, canvas.parentElement.clientWidth);
      canvas.style.height = cssH + "px";
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      draw();
    }
    function xOf(t) { return LEFT + (t - view.a) / (view.b - view.a) * (cssW - LEFT - 8); }
    function tOf(x) { return view.a + (x - LEFT) / (cssW - LEFT - 8) * (view.b - view.a); }
    function schedule() { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; draw(); }); } }

    function fmtT(t, step) {
      if (D.unit === "event") return String(Math.round(t));
      var ms = t * D.q / 1e6;
      if (step !== undefined && step * D.q / 1e6 >= 1000) return (ms / 1000).toFixed(step * D.q / 1e9 >= 1 ? 0 : 1) + " s";
      var digits = step === undefined ? 3 : Math.max(0, Math.min(3, -Math.floor(Math.log10(step * D.q / 1e6))));
      return ms.toFixed(digits) + " ms";
    }
    function fmtDur(d) { return D.unit === "event" ? d + " events" : (d * D.q / 1e6).toFixed(3) + " ms"; }
    function niceStep(span, px) {
      var raw = span / Math.max(1, px / 110), p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
      return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
    }
    function firstIn(list, t) {
      var lo = 0, hi = list.length;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (call[list[mid]] < t) lo = mid + 1; else hi = mid; }
      return lo;
    }

    function draw() {
      var started = performance.now();
      var w = cssW, plotW = w - LEFT - 8, bottom = TOP + nl * laneH;
      ctx.clearRect(0, 0, w, cssH);
      ctx.font = "11px system-ui, sans-serif";
      ctx.textBaseline = "middle";
      for (var l = 0; l < nl; l++) {
        if (l % 2) { ctx.fillStyle = "#f6f7f9"; ctx.fillRect(LEFT, TOP + l * laneH, plotW, laneH); }
      }
      var step = niceStep(view.b - view.a, plotW), tt;
      ctx.strokeStyle = "#e3e6ea"; ctx.lineWidth = 1;
      for (tt = Math.ceil(view.a / step) * step; tt <= view.b; tt += step) {
        ctx.beginPath(); ctx.moveTo(xOf(tt), TOP); ctx.lineTo(xOf(tt), bottom); ctx.stroke();
      }
      D.faults.forEach(function (f) {
        var x0 = Math.max(LEFT, xOf(f.start)), x1 = Math.min(w - 8, xOf(f.end));
        if (x1 < LEFT || x0 > w - 8) return;
        ctx.fillStyle = "rgba(217,83,79,0.14)";
        ctx.fillRect(x0, TOP - 12, Math.max(1, x1 - x0), bottom - TOP + 12);
        ctx.fillStyle = "#a33";
        ctx.fillText(f.label + (f.open ? " (never healed)" : ""), x0 + 2, TOP - 6);
      });
      var rows = [[], [], []], hiIdx = [];
      var eps = (view.b - view.a) / plotW;
      for (l = 0; l < nl; l++) {
        var list = laneOps[l], y = TOP + l * laneH + 1, h = laneH - 2;
        var k = firstIn(list, view.a - laneMax[l] - eps);
        if (k > 0) k--;
        var opens = laneOpen[l];
        for (var o = 0; o < opens.length; o++) {
          var oi = opens[o];
          if (call[oi] > view.b) continue;
          if (viol[oi]) { hiIdx.push(oi); continue; }
          var ox = Math.max(LEFT, xOf(call[oi])), os = showPrefix ? (prefixPos[oi] >= 0 ? 0 : 3) : O.st[oi];
          rows[os === 3 ? 1 : os].push(ox, y + h / 4, Math.max(1, Math.min(w - 8, xOf(ret[oi])) - ox), h / 2, os);
        }
        /* Bars of one status closer than half a pixel merge into one run: zoomed out,
         * thousands of ops per lane become a few hundred rectangles. */
        var runS = 0, runE = -1, runSt = -1;
        for (; k < list.length; k++) {
          var i = list[k];
          if (call[i] > view.b) break;
          if (open[i] || ret[i] < view.a) continue;
          if (viol[i]) { hiIdx.push(i); continue; }
          var x0 = Math.max(LEFT, xOf(call[i])), x1 = Math.min(w - 8, xOf(ret[i]));
          if (x1 - x0 < 1) x1 = x0 + 1;
          var s = showPrefix ? (prefixPos[i] >= 0 ? 0 : 3) : O.st[i];
          if (s === runSt && x0 <= runE + 0.5) { if (x1 > runE) runE = x1; continue; }
          if (runSt >= 0) rows[runSt === 3 ? 1 : runSt].push(runS, y, runE - runS, h, runSt);
          runS = x0; runE = x1; runSt = s;
        }
        if (runSt >= 0) rows[runSt === 3 ? 1 : runSt].push(runS, y, runE - runS, h, runSt);
      }
      for (var si = 0; si < 3; si++) {
        var r = rows[si];
        if (!showPrefix) ctx.fillStyle = COLORS[si];
        for (var j = 0; j < r.length; j += 5) {
          if (showPrefix) ctx.fillStyle = r[j + 4] === 0 ? "#3d8b3d" : "#cfd3da";
          ctx.fillRect(r[j], r[j + 1], r[j + 2], r[j + 3]);
        }
      }
      for (l = 0; l < nl; l++) {
        var wl = laneWatch[l];
        if (!wl.length) continue;
        var yy = TOP + l * laneH + 2, hh = laneH - 4;
        for (var q = 0; q < wl.length; q++) {
          var m = wl[q], t = W.t[m];
          if (t < view.a || t > view.b) continue;
          ctx.fillStyle = WATCH_COLORS[D.watchEvents[W.ev[m]]] || "#555";
          ctx.fillRect(xOf(t) - 1, yy, 2, hh);
        }
      }
      relatedIdx.forEach(function (i) {
        if (call[i] > view.b || ret[i] < view.a) return;
        var y = TOP + O.lane[i] * laneH, x0 = Math.max(LEFT, xOf(call[i])), x1 = Math.min(w - 8, xOf(ret[i]));
        ctx.strokeStyle = "#1f3fbf"; ctx.lineWidth = 2;
        ctx.strokeRect(x0 - 1, y, Math.max(3, x1 - x0 + 2), laneH);
      });
      hiIdx.forEach(function (i) {
        var y = TOP + O.lane[i] * laneH, x0 = Math.max(LEFT, xOf(call[i])), x1 = Math.min(w - 8, xOf(ret[i]));
        if (x1 - x0 < 3) { x0 -= 1; x1 = x0 + 3; }
        ctx.fillStyle = "#d62728";
        ctx.fillRect(x0, y, x1 - x0, laneH);
        ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
        ctx.strokeRect(x0, y + 0.5, x1 - x0, laneH - 1);
        var cx = (x0 + x1) / 2;
        ctx.beginPath(); ctx.moveTo(cx - 6, y - 9); ctx.lineTo(cx + 6, y - 9); ctx.lineTo(cx, y - 1); ctx.closePath();
        ctx.fill();
        marked[ids[i]] = true;
      });
      if (selected >= 0) {
        var ys = TOP + O.lane[selected] * laneH, a = xOf(call[selected]), b = xOf(ret[selected]);
        ctx.strokeStyle = "#1f5fbf"; ctx.lineWidth = 2;
        ctx.strokeRect(Math.max(LEFT, a) - 2, ys - 1, Math.max(4, Math.min(w - 8, b) - Math.max(LEFT, a) + 4), laneH + 2);
      }
      D.notes.forEach(function (nt) {
        if (nt.t < view.a || nt.t > view.b) return;
        var x = xOf(nt.t);
        ctx.strokeStyle = "#555"; ctx.setLineDash([3, 3]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x, TOP - 12); ctx.lineTo(x, bottom); ctx.stroke(); ctx.setLineDash([]);
      });
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, LEFT, cssH);
      ctx.fillStyle = "#333"; ctx.textAlign = "right";
      var every = Math.ceil(11 / laneH);
      for (l = 0; l < nl; l += every) ctx.fillText(D.lanes[l].name, LEFT - 6, TOP + l * laneH + laneH / 2);
      ctx.textAlign = "center"; ctx.fillStyle = "#555";
      for (tt = Math.ceil(view.a / step) * step; tt <= view.b; tt += step) ctx.fillText(fmtT(tt, step), xOf(tt), bottom + 12);
      ctx.textAlign = "left";
      canvas.setAttribute("data-marked-ops", Object.keys(marked).join(","));
      canvas.setAttribute("data-view", view.a.toFixed(0) + "," + view.b.toFixed(0));
      canvas.setAttribute("data-draw-ms", (performance.now() - started).toFixed(1));
    }

    function hit(x, y) {
      var l = Math.floor((y - TOP) / laneH);
      if (x < LEFT || l >= nl) return null;
      var t = tOf(x), tol = 3 * (view.b - view.a) / (cssW - LEFT);
      if (l < 0) {
        var near = D.notes.filter(function (nt) { return Math.abs(nt.t - t) <= tol; });
        if (near.length) return { notes: near };
        var fw = D.faults.filter(function (f) { return f.start <= t && t <= f.end; });
        return fw.length ? { faults: fw } : null;
      }
      var list = laneOps[l], k = firstIn(list, t + tol + 1e-9) - 1, best = -1;
      for (var c = 0; k >= 0 && c < 64; k--, c++) {
        var i = list[k];
        if (ret[i] + tol >= t && call[i] - tol <= t) { best = i; if (!open[i]) break; }
      }
      if (best >= 0) return { op: best };
      var wl = laneWatch[l], bw = -1, bd = tol;
      for (var q = 0; q < wl.length; q++) {
        var d = Math.abs(W.t[wl[q]] - t);
        if (d <= bd) { bd = d; bw = wl[q]; }
      }
      if (bw >= 0) return { watch: bw };
      var fs = D.faults.filter(function (f) { return f.start <= t && t <= f.end; });
      return fs.length ? { faults: fs } : null;
    }
    function describeOp(i) {
      var lines = ["op " + ids[i] + " · " + D.lanes[O.lane[i]].name + (O.mem.length && O.mem[i] >= 0 ? " → " + D.members[O.mem[i]] : "") +
        " · " + STATUS[O.st[i]] + (viol[i] ? " · VIOLATION" : related[i] ? " · wrote a revision an anomaly names" : ""), O.desc[i],
        "call " + fmtT(call[i]) + (open[i] ? ", never returned" : ", return " + fmtT(ret[i]) + " (" + fmtDur(ret[i] - call[i]) + ")")];
      if (prefixPos[i] >= 0) lines.push("linearized at position " + (prefixPos[i] + 1) + " of the longest prefix");
      return lines.join("\n");
    }
    function describeHit(h) {
      if (h.op !== undefined) return describeOp(h.op);
      if (h.watch !== undefined) return "at " + fmtT(W.t[h.watch]) + ": " + W.desc[h.watch];
      if (h.notes) return h.notes.map(function (nt) { return fmtT(nt.t) + ": " + nt.text; }).join("\n");
      return h.faults.map(function (f) { return "fault " + f.label + ": " + fmtT(f.start) + " .. " + fmtT(f.end) + (f.error ? " heal error: " + f.error : "") + (f.detail ? "\n" + f.detail : ""); }).join("\n");
    }
    function pos(e) { var r = canvas.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top }; }

    function zoomAt(x, factor) {
      var t = tOf(Math.max(LEFT, x)), minSpan = 1e-3 * span0 + 2;
      var a = t - (t - view.a) * factor, b = t + (view.b - t) * factor;
      if (b - a < minSpan) return;
      if (b - a > span0 * 1.5) { a = D.start - pad; b = D.end + pad; }
      view.a = a; view.b = b; schedule();
    }
    function select(i) {
      selected = i;
      if (i < 0) { sel.textContent = "Click an operation for its details."; schedule(); return; }
      sel.textContent = "";
      var pre = document.createElement("code");
      pre.textContent = describeOp(i).replace(/\n/g, " · ");
      sel.appendChild(pre);
      schedule();
    }
    function zoomTo(id, scroll) {
      var i = index.get(id);
      if (i === undefined) return;
      var d = Math.max(ret[i] - call[i], span0 * 0.002), c = (call[i] + ret[i]) / 2;
      if (open[i]) { d = span0 * 0.01; c = call[i]; }
      view.a = c - 6 * d; view.b = c + 6 * d;
      select(i);
      if (scroll !== false) document.getElementById("timeline-section").scrollIntoView({ block: "start" });
    }

    var drag = null;
    canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      zoomAt(pos(e).x, Math.pow(1.0015, e.deltaY));
    }, { passive: false });
    canvas.addEventListener("mousedown", function (e) { drag = { x: e.clientX, a: view.a, b: view.b, moved: false }; canvas.classList.add("dragging"); });
    window.addEventListener("mouseup", function (e) {
      if (!drag) return;
      canvas.classList.remove("dragging");
      if (!drag.moved) { var p = pos(e), h = hit(p.x, p.y); select(h && h.op !== undefined ? h.op : -1); }
      drag = null;
    });
    window.addEventListener("mousemove", function (e) {
      if (drag) {
        var dx = e.clientX - drag.x;
        if (Math.abs(dx) > 2) drag.moved = true;
        var dt = dx / (cssW - LEFT - 8) * (drag.b - drag.a);
        view.a = drag.a - dt; view.b = drag.b - dt; tip.hidden = true; schedule();
        return;
      }
      if (e.target !== canvas) { tip.hidden = true; return; }
      var p = pos(e), h = hit(p.x, p.y);
      if (!h) { tip.hidden = true; return; }
      tip.textContent = describeHit(h);
      tip.hidden = false;
      var left = Math.min(p.x + 14, cssW - tip.offsetWidth - 4);
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = (p.y + 16) + "px";
    });
    canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
    canvas.addEventListener("dblclick", function () { view.a = D.start - pad; view.b = D.end + pad; schedule(); });
    function on(id, ev, fn) { var el = document.getElementById(id); if (el) el.addEventListener(ev, fn); }
    on("tl-reset", "click", function () { view.a = D.start - pad; view.b = D.end + pad; schedule(); });
    on("tl-in", "click", function () { zoomAt(LEFT + (cssW - LEFT) / 2, 0.5); });
    on("tl-out", "click", function () { zoomAt(LEFT + (cssW - LEFT) / 2, 2); });
    var nextViolation = 0;
    on("tl-violation", "click", function () {
      var list = D.marks.violating;
      if (!list.length) return;
      zoomTo(list[nextViolation % list.length]);
      nextViolation++;
    });
    on("tl-prefix", "change", function (e) { showPrefix = e.target.checked; schedule(); });
    document.querySelectorAll(".oplink").forEach(function (el) {
      el.addEventListener("click", function (e) { e.preventDefault(); zoomTo(Number(el.getAttribute("data-op"))); });
    });
    window.addEventListener("resize", resize);
    resize();
    /* For scripted checks (tests, the console): synchronous zoom/pan/draw. */
    window.reportTimeline = {
      view: view,
      draw: draw,
      zoomTo: zoomTo,
      zoom: function (factor, x) { zoomAt(x === undefined ? LEFT + (cssW - LEFT) / 2 : x, factor); draw(); },
      pan: function (fraction) { var d = (view.b - view.a) * fraction; view.a += d; view.b += d; draw(); },
      hover: function (x, y) { var h = hit(x, y); return h ? describeHit(h) : null; }
    };
    var m = /^#op=(-?\d+)$/.exec(window.location.hash);
    if (m) zoomTo(Number(m[1]), false);
    if (violIdx.length) {
      var ex = document.getElementById("explanation");
      if (ex) ex.setAttribute("data-marked", "true");
    }
    statusEl.setAttribute("data-render-ms", (performance.now() - t0).toFixed(1));
    statusEl.setAttribute("data-ops", String(n));
  }

  try {
    main();
    if (statusEl.getAttribute("data-status") !== "error") statusEl.setAttribute("data-status", "ok");
  } catch (e) {
    fail(String(e && e.stack || e));
  }
})();

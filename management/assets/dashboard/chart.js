// A small line chart on <canvas>, written for the dashboard (no library): a few
// series of (time, value) points, time on the x axis, a zero-based y axis with round
// ticks, and a legend. Exposed as window.TridentChart.draw(canvas, series, opts).
(function () {
  "use strict";
  const COLORS = ["#1f6feb", "#2e7d32", "#e8710a", "#9334e6", "#c62828", "#00897b"];

  // A "nice" step for about `n` ticks over [0, max]: 1, 2 or 5 times a power of ten.
  function niceStep(max, n) {
    const raw = max / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  }

  function label(v) {
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
    if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  function clock(ms) {
    const d = new Date(ms);
    return d.toTimeString().slice(0, 5);
  }

  // series: [{name, points: [[t_ms, v], ...]}], oldest first.
  function draw(canvas, series, opts) {
    opts = opts || {};
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 420, h = canvas.clientHeight || 200;
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    const pad = { l: 44, r: 10, t: 8, b: 20 };
    const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
    const all = series.flatMap((s) => s.points);
    const now = Date.now();
    const tMax = all.length ? Math.max(...all.map((p) => p[0])) : now;
    const tMin = Math.min(tMax - (opts.spanMs || 600000), ...all.map((p) => p[0]));
    const vMax = Math.max(1, ...all.map((p) => p[1]));
    const step = niceStep(vMax, 4);
    const top = Math.ceil(vMax / step) * step;
    const x = (t) => pad.l + ((t - tMin) / Math.max(1, tMax - tMin)) * pw;
    const y = (v) => pad.t + ph - (Math.max(0, v) / top) * ph;
    g.strokeStyle = "#e3e7ee";
    g.fillStyle = "#6b7385";
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let v = 0; v <= top + step / 2; v += step) {
      g.beginPath();
      g.moveTo(pad.l, Math.round(y(v)) + 0.5);
      g.lineTo(w - pad.r, Math.round(y(v)) + 0.5);
      g.stroke();
      g.fillText(label(v), pad.l - 6, y(v));
    }
    g.textBaseline = "top";
    for (let i = 0; i <= 4; i++) {
      const t = tMin + ((tMax - tMin) * i) / 4;
      // The end labels align inwards so that they are not cut at the canvas edge.
      g.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
      g.fillText(clock(t), x(t), h - pad.b + 5);
    }
    series.forEach((s, i) => {
      if (!s.points.length) return;
      g.strokeStyle = COLORS[i % COLORS.length];
      g.lineWidth = 2;
      g.beginPath();
      s.points.forEach((p, k) => (k ? g.lineTo(x(p[0]), y(p[1])) : g.moveTo(x(p[0]), y(p[1]))));
      g.stroke();
    });
    if (!all.length) {
      g.fillStyle = "#6b7385";
      g.textBaseline = "middle";
      g.fillText(opts.empty || "collecting samples (every 5 s)...", pad.l + pw / 2, pad.t + ph / 2);
    }
    canvas.dataset.points = String(all.length);
  }

  window.TridentChart = { draw: draw, colors: COLORS };
})();

// A small canvas line chart: time on x, several series, auto-scaled y with
// rounded ticks, a legend, crisp on high-DPI screens, redrawn on resize.

export const palette = ["#4f7cff", "#1a9c63", "#e0793a", "#9b59d0", "#d64545", "#1fa3b5", "#c9a100", "#6b7a99"];

export class LineChart {
  // el: a container element; opts: {format(v) -> string, stacked: false}
  constructor(el, opts = {}) {
    this.el = el;
    this.opts = opts;
    this.series = []; // {name, color, points: [[t, v]]}
    this.canvas = document.createElement("canvas");
    const box = document.createElement("div");
    box.className = "chart";
    box.appendChild(this.canvas);
    this.legend = document.createElement("div");
    this.legend.className = "legend";
    el.append(box, this.legend);
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(box);
  }

  set(series) {
    this.series = series.map((s, i) => ({ color: palette[i % palette.length], ...s }));
    this.legend.innerHTML = "";
    for (const s of this.series) {
      const last = s.points.length ? s.points[s.points.length - 1][1] : null;
      const item = document.createElement("span");
      item.innerHTML = `<i style="background:${s.color}"></i>`;
      item.append(`${s.name}${last == null ? "" : " · " + this.fmt(last)}`);
      this.legend.append(item);
    }
    this.draw();
  }

  fmt(v) { return this.opts.format ? this.opts.format(v) : niceNumber(v); }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "11px system-ui, 'DejaVu Sans', sans-serif";
    let t0 = Infinity, t1 = -Infinity, vmax = 0;
    for (const s of this.series) for (const [t, v] of s.points) {
      t0 = Math.min(t0, t); t1 = Math.max(t1, t); vmax = Math.max(vmax, v);
    }
    const left = 52, right = 10, top = 8, bottom = 22;
    const pw = w - left - right, ph = h - top - bottom;
    const [ticks, ymax] = yTicks(vmax);
    g.strokeStyle = "#e3e7ef"; g.fillStyle = "#687289"; g.lineWidth = 1;
    g.textAlign = "right"; g.textBaseline = "middle";
    for (const v of ticks) {
      const y = top + ph - (v / ymax) * ph;
      g.beginPath(); g.moveTo(left, Math.round(y) + .5); g.lineTo(w - right, Math.round(y) + .5); g.stroke();
      g.fillText(this.fmt(v), left - 6, y);
    }
    if (!isFinite(t0)) {
      g.textAlign = "center"; g.fillText("waiting for data…", left + pw / 2, top + ph / 2);
      return;
    }
    if (t1 === t0) t0 = t1 - 60000;
    const x = t => left + ((t - t0) / (t1 - t0)) * pw;
    const y = v => top + ph - (v / ymax) * ph;
    g.textAlign = "center"; g.textBaseline = "top";
    const span = (t1 - t0) / 1000;
    const step = span > 600 ? 300 : span > 120 ? 60 : span > 40 ? 15 : 5;
    for (let t = Math.ceil(t0 / 1000 / step) * step * 1000; t <= t1; t += step * 1000) {
      const d = new Date(t);
      g.fillText(`${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}`, x(t), top + ph + 6);
    }
    for (const s of this.series) {
      if (!s.points.length) continue;
      g.strokeStyle = s.color; g.lineWidth = 1.8; g.lineJoin = "round";
      g.beginPath();
      s.points.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
      g.stroke();
      g.globalAlpha = .08; g.fillStyle = s.color;
      g.lineTo(x(s.points[s.points.length - 1][0]), y(0)); g.lineTo(x(s.points[0][0]), y(0)); g.closePath(); g.fill();
      g.globalAlpha = 1;
    }
  }
}

function yTicks(vmax) {
  if (vmax <= 0) return [[0, 1], 1];
  const raw = vmax / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw);
  const ticks = [];
  for (let v = 0; v <= vmax + step * .999; v += step) ticks.push(v);
  return [ticks, ticks[ticks.length - 1]];
}

export function niceNumber(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + "k";
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(a >= 10 ? 1 : 2);
}

export function niceBytes(v) {
  const a = Math.abs(v);
  if (a >= 1 << 30) return (v / (1 << 30)).toFixed(1) + " GiB";
  if (a >= 1 << 20) return (v / (1 << 20)).toFixed(1) + " MiB";
  if (a >= 1 << 10) return (v / (1 << 10)).toFixed(1) + " KiB";
  return Math.round(v) + " B";
}

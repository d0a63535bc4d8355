// The console's only ways to the server: the JSON API and SSE streams.

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, init);
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON */ }
  if (!resp.ok) throw new ApiError(resp.status, (data && data.message) || resp.statusText);
  return data;
}

export const get = path => api("GET", path);

// Live statistics: one EventSource for the whole console, a history of
// snapshots, and rates derived from successive counters.
const HISTORY = 300; // snapshots kept (5 minutes at one a second)

class Live {
  constructor() {
    this.history = [];
    this.listeners = new Set();
    this.status = "connecting";
    this.connect();
  }

  connect() {
    this.es = new EventSource("/api/v1/stats/stream");
    this.es.addEventListener("stats", ev => {
      const s = JSON.parse(ev.data);
      const last = this.history[this.history.length - 1];
      if (last && s.time <= last.time) return;
      this.history.push(s);
      if (this.history.length > HISTORY) this.history.shift();
      this.setStatus("live");
      for (const fn of this.listeners) fn(s);
    });
    this.es.onerror = () => this.setStatus(this.es.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting");
  }

  setStatus(st) {
    if (st === this.status) return;
    this.status = st;
    const el = document.getElementById("live");
    el.className = "live " + (st === "live" ? "on" : st === "disconnected" ? "off" : "");
    document.getElementById("live-text").textContent = st;
  }

  latest() { return this.history[this.history.length - 1]; }

  // subscribe calls fn on every snapshot until the returned function is
  // called; pages unsubscribe when left.
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // rateSeries returns [[t, per-second rate]] of the counter pick(snapshot).
  rateSeries(pick) {
    const out = [];
    for (let i = 1; i < this.history.length; i++) {
      const a = this.history[i - 1], b = this.history[i];
      const va = pick(a), vb = pick(b);
      if (va == null || vb == null) continue;
      out.push([b.time, Math.max(vb - va, 0) / ((b.time - a.time) / 1000)]);
    }
    return out;
  }

  // rate is the latest per-second rate of pick over the last few seconds.
  rate(pick, window = 5) {
    const h = this.history;
    if (h.length < 2) return 0;
    const b = h[h.length - 1], a = h[Math.max(0, h.length - 1 - window)];
    const va = pick(a), vb = pick(b);
    if (va == null || vb == null || b.time === a.time) return 0;
    return Math.max(vb - va, 0) / ((b.time - a.time) / 1000);
  }

  gaugeSeries(pick) {
    return this.history.map(s => [s.time, pick(s)]).filter(([, v]) => v != null);
  }
}

export const live = new Live();

export function sum(obj, field) {
  let t = 0;
  for (const k in obj) t += obj[k][field] || 0;
  return t;
}

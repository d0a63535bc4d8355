// The demo's live dashboard: everything on it comes from the stream
// processor's output topics, read and tailed through the HTTP gateway.
import { LineChart, niceNumber } from "/chart.js";

const WINDOW_MS = 30000;
const $ = id => document.getElementById(id);
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const money = v => "$" + v.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

const products = new Map(); // product -> latest ProductStats (by window end)
const perSecond = new Map(); // second start (ms) -> clicks
const purchases = []; // newest first

function onStats(s) {
  const cur = products.get(s.product);
  if (!cur || s.window_end >= cur.window_end) products.set(s.product, s);
}
function onRate(r) { perSecond.set(r.second, Math.max(perSecond.get(r.second) || 0, r.clicks)); }
function onPurchase(p) {
  purchases.unshift(p);
  purchases.length = Math.min(purchases.length, 40);
  dirty.purchases = true;
}

async function recent(topic, partitions, limit, fn) {
  for (let p = 0; p < partitions; p++) {
    const r = await fetch(`/api/v1/topics/${topic}/records?partition=${p}&offset=latest&limit=${limit}`);
    if (!r.ok) continue;
    for (const rec of (await r.json()).records) fn(JSON.parse(rec.value));
  }
}

function tail(topic, fn) {
  const es = new EventSource(`/api/v1/topics/${topic}/tail`);
  es.addEventListener("record", ev => fn(JSON.parse(JSON.parse(ev.data).value)));
  es.onopen = () => setLive(true);
  es.onerror = () => setLive(false);
}

function setLive(on) {
  $("live").className = "live " + (on ? "on" : "");
  $("live-text").textContent = on ? "live" : "reconnecting";
}

const chart = new LineChart($("c-rate"), { format: niceNumber });
const dirty = { purchases: true };

function draw() {
  const now = Date.now();
  // Clicks per second: complete seconds only, the last two minutes.
  const secs = [...perSecond.keys()].filter(s => s < now - 1000 && s > now - 120000).sort((a, b) => a - b);
  for (const s of perSecond.keys()) if (s < now - 180000) perSecond.delete(s);
  chart.set([{ name: "clicks/s", points: secs.map(s => [s, perSecond.get(s)]) }]);
  const last = secs[secs.length - 1];
  $("k-rate").textContent = last ? niceNumber(perSecond.get(last)) : "–";

  const active = [...products.values()].filter(s => s.window_end > now - WINDOW_MS);
  active.sort((a, b) => (b.views + b.carts + b.purchases) - (a.views + a.carts + a.purchases) || a.name.localeCompare(b.name));
  const top = active[0] ? active[0].views + active[0].carts + active[0].purchases : 1;
  $("top").innerHTML = active.length ? active.slice(0, 10).map((s, i) => `<tr class="${s.burst ? "bursting" : ""}" data-product="${esc(s.product)}">
    <td class="muted">${i + 1}</td><td><b>${esc(s.name)}</b>${s.burst ? `<span class="burst" title="${s.recent_clicks} clicks in the last 5 s">burst</span>` : ""}</td>
    <td class="num views">${s.views}</td><td class="num">${s.carts}</td><td class="num">${s.purchases}</td><td class="num">${money(s.revenue)}</td>
    <td><div class="bar"><span style="width:${(s.views + s.carts + s.purchases) / top * 100}%"></span></div></td></tr>`).join("")
    : '<tr><td colspan="7" class="empty">Waiting for the processor\'s first window…</td></tr>';
  const recentBuys = purchases.filter(p => p.time > now - WINDOW_MS);
  $("k-purchases").textContent = recentBuys.length;
  $("k-revenue").textContent = money(recentBuys.reduce((t, p) => t + p.price, 0));
  $("k-bursts").textContent = active.filter(s => s.burst).length;
  if (dirty.purchases) {
    dirty.purchases = false;
    $("purchases").innerHTML = purchases.length ? purchases.slice(0, 6).map(p => `<li><span><b>${esc(p.name)}</b><br><span class="who">${esc(p.user)} · ${new Date(p.time).toLocaleTimeString()}</span></span>
      <span class="price">${money(p.price)}</span></li>`).join("") : '<li class="empty">Waiting for the first purchase…</li>';
  }
}

(async () => {
  await Promise.all([
    recent("demo-product-stats", 3, 200, onStats),
    recent("demo-clicks-per-sec", 1, 200, onRate),
    recent("demo-purchases", 1, 20, p => { purchases.push(p); }),
  ]).catch(() => {});
  purchases.sort((a, b) => b.time - a.time);
  tail("demo-product-stats", onStats);
  tail("demo-clicks-per-sec", onRate);
  tail("demo-purchases", onPurchase);
  draw();
  setInterval(draw, 1000);
})();

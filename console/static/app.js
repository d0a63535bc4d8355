// The console: a hash-routed single page over the gateway's JSON API and
// its live statistics stream. Each page renders into <main> and returns a
// cleanup function, called when the page is left.
import { api, get, live, sum } from "./api.js";
import { LineChart, niceNumber, niceBytes } from "./chart.js";

const main = document.getElementById("main");

// ---------- small helpers ----------

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function html(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? values[i] : ""), "");
}

function toast(msg, error = false) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.className = "toast" + (error ? " error" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.add("hidden"), error ? 6000 : 3000);
}

function statePill(state) {
  const cls = { Stable: "good", ok: "good", firing: "bad", pending: "warn", Empty: "", PreparingRebalance: "warn", CompletingRebalance: "warn", Dead: "bad" }[state] ?? "info";
  return `<span class="pill ${cls}">${esc(state)}</span>`;
}

const rate = v => niceNumber(v) + "/s";
const time = ms => new Date(ms).toLocaleString();

// pretty renders a value: JSON pretty-printed and coloured, text as is.
function pretty(v) {
  if (v == null) return '<span class="muted">null</span>';
  const t = v.trim();
  if ((t.startsWith("{") || t.startsWith("[")) && t.length > 1) {
    try {
      const json = JSON.stringify(JSON.parse(t), null, 2);
      return `<pre class="json">${esc(json).replace(/(&quot;(?:[^&]|&(?!quot;))*?&quot;)(\s*:)?|\b(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\b|\b(true|false|null)\b/g,
        (m, str, colon, num, lit) => str ? `<span class="${colon ? "k-key" : "k-str"}">${str}</span>${colon || ""}` : num ? `<span class="k-num">${num}</span>` : `<span class="k-lit">${lit}</span>`)}</pre>`;
    } catch { /* not JSON */ }
  }
  return `<pre class="json">${esc(v)}</pre>`;
}

function chartCard(title, id) {
  return `<div class="card"><div class="card-head"><h2>${esc(title)}</h2></div><div id="${id}"></div></div>`;
}

// ---------- pages ----------

const pages = {};

pages.overview = () => {
  main.innerHTML = html`
    <h1>Overview</h1><p class="sub">Live throughput of the whole broker, updated every second.</p>
    <div class="grid cards">
      <div class="card stat"><div class="label">Records in</div><div class="value" id="s-rin">–</div></div>
      <div class="card stat"><div class="label">Records out</div><div class="value" id="s-rout">–</div></div>
      <div class="card stat"><div class="label">Bytes in</div><div class="value" id="s-bin">–</div></div>
      <div class="card stat"><div class="label">Topics</div><div class="value" id="s-topics">–</div></div>
      <div class="card stat"><div class="label">Groups</div><div class="value" id="s-groups">–</div></div>
      <div class="card stat"><div class="label">Connections</div><div class="value" id="s-conns">–</div></div>
    </div>
    <div class="grid two">${chartCard("Records per second", "c-records")}${chartCard("Bytes per second", "c-bytes")}</div>
    <div class="card"><div class="card-head"><h2>Busiest topics</h2><a href="#/topics">All topics →</a></div>
      <div class="table-wrap"><table><thead><tr><th>Topic</th><th class="num">In</th><th class="num">Out</th><th class="num">Stored</th></tr></thead><tbody id="t-busy"></tbody></table></div></div>`;
  const recs = new LineChart(document.getElementById("c-records"), { format: niceNumber });
  const bytes = new LineChart(document.getElementById("c-bytes"), { format: v => niceBytes(v) });
  const update = () => {
    const s = live.latest();
    if (!s) return;
    const user = Object.fromEntries(Object.entries(s.topics).filter(([n]) => !n.startsWith("__")));
    const pick = f => x => sum(x.topics, f);
    document.getElementById("s-rin").innerHTML = niceNumber(live.rate(pick("records_in"))) + '<span class="unit">/s</span>';
    document.getElementById("s-rout").innerHTML = niceNumber(live.rate(pick("records_out"))) + '<span class="unit">/s</span>';
    document.getElementById("s-bin").innerHTML = niceBytes(live.rate(pick("bytes_in"))) + '<span class="unit">/s</span>';
    document.getElementById("s-topics").textContent = Object.keys(user).length;
    document.getElementById("s-groups").textContent = Object.keys(s.groups).length;
    document.getElementById("s-conns").textContent = s.connections;
    recs.set([
      { name: "in", points: live.rateSeries(pick("records_in")) },
      { name: "out", points: live.rateSeries(pick("records_out")) },
    ]);
    bytes.set([
      { name: "in", points: live.rateSeries(pick("bytes_in")) },
      { name: "out", points: live.rateSeries(pick("bytes_out")) },
    ]);
    const rows = Object.keys(user).map(n => ({
      n, in: live.rate(x => x.topics[n]?.records_in), out: live.rate(x => x.topics[n]?.records_out), size: s.topics[n].log_bytes,
    })).sort((a, b) => b.in + b.out - a.in - a.out || a.n.localeCompare(b.n)).slice(0, 8);
    document.getElementById("t-busy").innerHTML = rows.length ? rows.map(r => html`<tr>
      <td><a href="#/topics/${encodeURIComponent(r.n)}">${esc(r.n)}</a></td><td class="num">${rate(r.in)}</td>
      <td class="num">${rate(r.out)}</td><td class="num">${niceBytes(r.size)}</td></tr>`).join("")
      : '<tr><td colspan="4" class="empty">No topics yet.</td></tr>';
  };
  update();
  return live.subscribe(update);
};

pages.topics = async () => {
  main.innerHTML = html`
    <h1>Topics</h1><p class="sub">Partitions, offsets, sizes and live rates.</p>
    <div class="card section"><form class="inline" id="create">
      <label class="field">Name<input name="name" required placeholder="clicks" pattern="[a-zA-Z0-9._\\-]+"></label>
      <label class="field">Partitions<input name="partitions" type="number" min="1" value="3" style="width:110px"></label>
      <label class="field">retention.ms<input name="retention" placeholder="default" style="width:150px"></label>
      <label class="field check"><input type="checkbox" name="compact"> compacted</label>
      <button>Create topic</button>
    </form></div>
    <div class="table-wrap"><table><thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Records</th>
      <th class="num">In</th><th class="num">Out</th><th class="num">Size</th><th></th></tr></thead><tbody id="rows"><tr><td colspan="7" class="empty">Loading…</td></tr></tbody></table></div>
    <label class="muted" style="display:block;margin-top:10px"><input type="checkbox" id="internal"> show internal topics</label>`;
  let topics = [];
  const draw = () => {
    const s = live.latest();
    document.getElementById("rows").innerHTML = topics.length ? topics.map(t => html`<tr data-topic="${esc(t.name)}">
      <td><a href="#/topics/${encodeURIComponent(t.name)}">${esc(t.name)}</a>${t.internal ? ' <span class="pill">internal</span>' : ""}</td>
      <td class="num">${t.partitions}</td><td class="num">${niceNumber(t.records)}</td>
      <td class="num">${rate(live.rate(x => x.topics[t.name]?.records_in))}</td>
      <td class="num">${rate(live.rate(x => x.topics[t.name]?.records_out))}</td>
      <td class="num">${s && s.topics[t.name] ? niceBytes(s.topics[t.name].log_bytes) : "–"}</td>
      <td class="num"><a href="#/messages?topic=${encodeURIComponent(t.name)}">browse</a>
        ${t.internal ? "" : `<button class="small danger" data-delete="${esc(t.name)}">delete</button>`}</td></tr>`).join("")
      : '<tr><td colspan="7" class="empty">No topics yet: create one above, or produce with any Kafka client.</td></tr>';
  };
  const load = async () => {
    try {
      topics = (await get("/topics" + (document.getElementById("internal").checked ? "?internal=true" : ""))).topics;
      draw();
    } catch (e) { toast(e.message, true); }
  };
  document.getElementById("internal").onchange = load;
  document.getElementById("create").onsubmit = async ev => {
    ev.preventDefault();
    const f = new FormData(ev.target), configs = {};
    if (f.get("retention")) configs["retention.ms"] = f.get("retention");
    if (f.get("compact")) configs["cleanup.policy"] = "compact";
    try {
      await api("POST", "/topics", { name: f.get("name"), partitions: Number(f.get("partitions")), configs });
      toast(`Topic ${f.get("name")} created`);
      ev.target.reset();
      load();
    } catch (e) { toast(e.message, true); }
  };
  document.getElementById("rows").onclick = async ev => {
    const name = ev.target.dataset?.delete;
    if (!name || !confirm(`Delete topic ${name} and all its records?`)) return;
    try { await api("DELETE", "/topics/" + encodeURIComponent(name)); toast(`Topic ${name} deleted`); load(); } catch (e) { toast(e.message, true); }
  };
  await load();
  let n = 0;
  return live.subscribe(() => (++n % 5 ? draw() : load()));
};

pages.topic = async ([name]) => {
  main.innerHTML = `<div class="crumbs"><a href="#/topics">Topics</a> /</div><h1>${esc(name)}</h1><p class="sub" id="meta">Loading…</p><div id="body"></div>`;
  let d;
  try { d = await get("/topics/" + encodeURIComponent(name)); } catch (e) { document.getElementById("meta").textContent = e.message; return; }
  document.getElementById("meta").innerHTML = html`${d.partitions.length} partitions · id <span class="mono">${esc(d.id)}</span> ·
    <a href="#/messages?topic=${encodeURIComponent(name)}">browse messages</a>`;
  const overrides = d.configs.filter(c => c.source === "DYNAMIC_TOPIC_CONFIG");
  document.getElementById("body").innerHTML = html`
    <div class="grid two">${chartCard("Records per second", "c-rate")}
      <div class="card"><h2>Partitions</h2><div class="table-wrap"><table><thead><tr><th>Partition</th><th>Leader</th>
      <th class="num">Start offset</th><th class="num">High watermark</th><th class="num">Records</th></tr></thead><tbody id="parts"></tbody></table></div></div></div>
    <div class="card"><div class="card-head"><h2>Configs</h2><span class="muted">${overrides.length} set on the topic, the rest inherited</span></div>
      <form class="inline section" id="alter"><label class="field">Config<input name="k" placeholder="retention.ms" list="config-names"></label>
      <label class="field">Value<input name="v"></label><button>Set</button></form>
      <datalist id="config-names">${d.configs.map(c => `<option value="${esc(c.name)}">`).join("")}</datalist>
      <div class="table-wrap"><table><thead><tr><th>Name</th><th>Value</th><th>Source</th><th></th></tr></thead><tbody id="configs"></tbody></table></div></div>`;
  const drawParts = parts => {
    document.getElementById("parts").innerHTML = parts.map(p => html`<tr><td>${p.partition}</td><td>${p.leader}</td>
      <td class="num">${p.start_offset}</td><td class="num">${p.high_watermark}</td><td class="num">${niceNumber(p.high_watermark - p.start_offset)}</td></tr>`).join("");
  };
  const drawConfigs = cs => {
    document.getElementById("configs").innerHTML = cs.map(c => html`<tr><td class="mono">${esc(c.name)}</td>
      <td class="mono">${c.sensitive ? "••••" : esc(c.value ?? "")}</td><td>${c.source === "DYNAMIC_TOPIC_CONFIG" ? '<span class="pill info">topic</span>' : `<span class="muted">${esc(c.source.replace(/_CONFIG$/, "").toLowerCase())}</span>`}</td>
      <td class="num">${c.source === "DYNAMIC_TOPIC_CONFIG" ? `<button class="small ghost" data-reset="${esc(c.name)}">reset</button>` : ""}</td></tr>`).join("");
  };
  drawParts(d.partitions);
  drawConfigs(d.configs);
  const alter = async body => {
    try { drawConfigs((await api("PATCH", `/topics/${encodeURIComponent(name)}/configs`, body)).configs); toast("Configs updated"); } catch (e) { toast(e.message, true); }
  };
  document.getElementById("alter").onsubmit = ev => { ev.preventDefault(); const f = new FormData(ev.target); alter({ set: { [f.get("k")]: f.get("v") } }); };
  document.getElementById("configs").onclick = ev => ev.target.dataset?.reset && alter({ delete: [ev.target.dataset.reset] });
  const chart = new LineChart(document.getElementById("c-rate"));
  let n = 0;
  const update = async () => {
    chart.set([
      { name: "in", points: live.rateSeries(x => x.topics[name]?.records_in) },
      { name: "out", points: live.rateSeries(x => x.topics[name]?.records_out) },
    ]);
    if (++n % 3 === 0) {
      try { drawParts((await get("/topics/" + encodeURIComponent(name))).partitions); } catch { /* deleted meanwhile */ }
    }
  };
  update();
  return live.subscribe(update);
};

pages.messages = async (_, query) => {
  main.innerHTML = html`
    <h1>Messages</h1><p class="sub">Read a partition from an offset or a point in time, or follow it live.</p>
    <div class="card section"><form class="inline" id="q">
      <label class="field">Topic<select name="topic" id="topic" required></select></label>
      <label class="field">Partition<select name="partition" id="partition"></select></label>
      <label class="field">From<select name="mode" id="mode"><option value="offset">offset</option><option value="latest">latest</option><option value="time">time</option></select></label>
      <label class="field" id="f-offset">Offset<input name="offset" type="number" min="0" value="0" style="width:120px"></label>
      <label class="field hidden" id="f-time">Time<input name="time" type="datetime-local" step="1"></label>
      <label class="field">Limit<input name="limit" type="number" min="1" max="1000" value="50" style="width:90px"></label>
      <button>Read</button><button type="button" class="ghost" id="tail">Follow live</button>
    </form></div>
    <div id="summary" class="muted section"></div>
    <div class="table-wrap"><table><thead><tr><th class="num">Partition</th><th class="num">Offset</th><th>Time</th><th>Key</th><th style="width:50%">Value</th><th>Headers</th></tr></thead>
    <tbody id="msgs"><tr><td colspan="6" class="empty">Pick a topic and read.</td></tr></tbody></table></div>
    <div style="margin-top:12px"><button class="ghost hidden" id="more">Next page</button></div>`;
  const $ = id => document.getElementById(id);
  let topics = [];
  try { topics = (await get("/topics?internal=true")).topics; } catch (e) { toast(e.message, true); }
  topics.sort((a, b) => a.internal - b.internal || a.name.localeCompare(b.name)); // user topics first
  $("topic").innerHTML = topics.map(t => `<option ${t.name === query.get("topic") ? "selected" : ""}>${esc(t.name)}</option>`).join("");
  const setParts = () => {
    const t = topics.find(t => t.name === $("topic").value);
    $("partition").innerHTML = Array.from({ length: t ? t.partitions : 0 }, (_, i) => `<option>${i}</option>`).join("");
  };
  setParts();
  if (query.get("partition")) $("partition").value = query.get("partition");
  $("topic").onchange = setParts;
  $("mode").onchange = () => {
    $("f-offset").classList.toggle("hidden", $("mode").value !== "offset");
    $("f-time").classList.toggle("hidden", $("mode").value !== "time");
  };
  const row = r => html`<tr><td class="num">${r.partition}</td><td class="num mono">${r.offset}</td>
    <td class="mono" title="${r.timestamp}">${esc(time(r.timestamp))}</td>
    <td class="mono">${r.key != null ? esc(r.key) : r.key_base64 ? `<span class="pill">base64</span> ${esc(r.key_base64)}` : '<span class="muted">null</span>'}</td>
    <td>${r.value_base64 ? `<span class="pill">base64</span> <span class="mono">${esc(r.value_base64)}</span>` : pretty(r.value)}</td>
    <td>${(r.headers || []).map(h => `<span class="tag">${esc(h.key)}=${esc(h.value)}</span>`).join("") || '<span class="muted">–</span>'}</td></tr>`;
  let next = null, es = null;
  const stopTail = () => { if (es) { es.close(); es = null; $("tail").textContent = "Follow live"; } };
  const read = async (offset) => {
    stopTail();
    const f = new FormData($("q"));
    const p = new URLSearchParams({ partition: f.get("partition"), limit: f.get("limit") });
    if (offset != null) p.set("offset", offset);
    else if (f.get("mode") === "latest") p.set("offset", "latest");
    else if (f.get("mode") === "time") p.set("timestamp", String(new Date(f.get("time")).getTime()));
    else p.set("offset", f.get("offset") || "0");
    try {
      const r = await get(`/topics/${encodeURIComponent(f.get("topic"))}/records?${p}`);
      $("summary").textContent = `${r.records.length} records · partition ${r.partition} holds offsets ${r.start_offset}–${Math.max(r.high_watermark - 1, r.start_offset)}`;
      $("msgs").innerHTML = r.records.length ? r.records.map(row).join("") : '<tr><td colspan="6" class="empty">No records there.</td></tr>';
      next = r.next_offset < r.high_watermark ? r.next_offset : null;
      $("more").classList.toggle("hidden", next == null);
    } catch (e) { toast(e.message, true); }
  };
  $("q").onsubmit = ev => { ev.preventDefault(); read(); };
  $("more").onclick = () => next != null && read(next);
  $("tail").onclick = () => {
    if (es) return stopTail();
    const topic = $("topic").value;
    es = new EventSource(`/api/v1/topics/${encodeURIComponent(topic)}/tail`);
    $("tail").textContent = "Stop following";
    $("summary").textContent = `Following ${topic}: new records appear at the top.`;
    $("msgs").innerHTML = '<tr><td colspan="6" class="empty">Waiting for new records…</td></tr>';
    let count = 0;
    es.addEventListener("record", ev => {
      const tbody = $("msgs");
      if (!count++) tbody.innerHTML = "";
      tbody.insertAdjacentHTML("afterbegin", row(JSON.parse(ev.data)));
      while (tbody.rows.length > 200) tbody.deleteRow(-1);
    });
  };
  if (query.get("topic")) read();
  return stopTail;
};

pages.groups = async () => {
  main.innerHTML = html`<h1>Consumer groups</h1><p class="sub">State, members and lag (records not yet consumed).</p>
    <div class="grid two">${chartCard("Lag per group", "c-lag")}<div class="card"><h2>Groups</h2>
    <div class="table-wrap"><table><thead><tr><th>Group</th><th>State</th><th class="num">Members</th><th class="num">Lag</th></tr></thead>
    <tbody id="rows"><tr><td colspan="4" class="empty">Loading…</td></tr></tbody></table></div></div></div>`;
  const chart = new LineChart(document.getElementById("c-lag"));
  let n = 0;
  const load = async () => {
    try {
      const gs = (await get("/groups")).groups;
      document.getElementById("rows").innerHTML = gs.length ? gs.map(g => html`<tr>
        <td><a href="#/groups/${encodeURIComponent(g.group)}">${esc(g.group)}</a></td><td>${statePill(g.state)}</td>
        <td class="num">${g.members}</td><td class="num">${g.lag < 0 ? "–" : niceNumber(g.lag)}</td></tr>`).join("")
        : '<tr><td colspan="4" class="empty">No consumer groups.</td></tr>';
    } catch (e) { toast(e.message, true); }
  };
  const update = () => {
    const s = live.latest();
    if (s) chart.set(Object.keys(s.groups).sort().map(g => ({ name: g, points: live.gaugeSeries(x => x.groups[g]?.lag) })));
    if (n++ % 3 === 0) load();
  };
  update();
  return live.subscribe(update);
};

pages.group = async ([name]) => {
  main.innerHTML = html`<div class="crumbs"><a href="#/groups">Consumer groups</a> /</div><h1>${esc(name)}</h1><p class="sub" id="meta">Loading…</p>
    <div class="grid two">${chartCard("Lag over time", "c-lag")}<div class="card"><h2>Members</h2><div class="table-wrap"><table><thead><tr>
    <th>Member</th><th>Client</th><th>Host</th><th>Assigned</th></tr></thead><tbody id="members"></tbody></table></div></div></div>
    <div class="card"><h2>Lag per partition</h2><div class="table-wrap"><table><thead><tr><th>Topic</th><th class="num">Partition</th>
    <th class="num">Committed</th><th class="num">High watermark</th><th class="num">Lag</th><th style="width:22%"></th><th>Member</th></tr></thead><tbody id="offsets"></tbody></table></div></div>`;
  const chart = new LineChart(document.getElementById("c-lag"));
  const load = async () => {
    let d;
    try { d = await get("/groups/" + encodeURIComponent(name)); } catch (e) { document.getElementById("meta").textContent = e.message; return; }
    document.getElementById("meta").innerHTML = `${statePill(d.state)} · ${d.members.length} members · protocol ${esc(d.protocol || "–")} · total lag ${d.lag < 0 ? "–" : niceNumber(d.lag)}`;
    document.getElementById("members").innerHTML = d.members.length ? d.members.map(m => html`<tr><td class="mono" title="${esc(m.member_id)}">${esc(m.member_id.slice(0, 28))}${m.member_id.length > 28 ? "…" : ""}</td>
      <td>${esc(m.client_id)}</td><td class="mono">${esc(m.client_host)}</td>
      <td>${Object.entries(m.assigned).map(([t, ps]) => `<span class="tag">${esc(t)}: ${ps.sort((a, b) => a - b).join(",")}</span>`).join("") || '<span class="muted">–</span>'}</td></tr>`).join("")
      : '<tr><td colspan="4" class="empty">No members: the group is not consuming now.</td></tr>';
    const maxLag = Math.max(1, ...d.offsets.map(o => o.lag));
    document.getElementById("offsets").innerHTML = d.offsets.length ? d.offsets.map(o => html`<tr><td>${esc(o.topic)}</td><td class="num">${o.partition}</td>
      <td class="num">${o.committed < 0 ? "–" : o.committed}</td><td class="num">${o.high_watermark}</td><td class="num">${o.lag < 0 ? "–" : niceNumber(o.lag)}</td>
      <td><div class="bar"><span style="width:${Math.max(0, o.lag) / maxLag * 100}%"></span></div></td>
      <td class="mono muted">${esc((o.member_id || "").slice(0, 20))}</td></tr>`).join("")
      : '<tr><td colspan="7" class="empty">No committed offsets.</td></tr>';
  };
  let n = 0;
  const update = () => {
    const s = live.latest();
    const parts = s && s.groups[name] ? Object.keys(s.groups[name].partitions).sort() : [];
    chart.set([{ name: "total", points: live.gaugeSeries(x => x.groups[name]?.lag) },
      ...(parts.length > 1 && parts.length <= 8 ? parts.map(p => ({ name: p, points: live.gaugeSeries(x => x.groups[name]?.partitions[p]) })) : [])]);
    if (n++ % 2 === 0) load();
  };
  update();
  return live.subscribe(update);
};

pages.processors = () => {
  main.innerHTML = html`<h1>Stream processors</h1><p class="sub">Applications built with Eddy's stream library running in this process: tasks, throughput, errors and dead letters.</p>
    <div class="grid two">${chartCard("Records processed per second", "c-proc")}${chartCard("Errors and dead letters per second", "c-err")}</div>
    <div class="table-wrap"><table><thead id="head"></thead><tbody id="rows"></tbody></table></div>
    <div class="card section"><div class="card-head"><h2>Tasks</h2><span class="muted">one per partition group this process runs; latency: from the poll to the outputs handed to the producer, mean over the last seconds</span></div>
    <div class="table-wrap"><table><thead><tr><th>App</th><th>Task</th><th>State</th><th class="num">records</th><th class="num">records/s</th>
      <th class="num">latency</th><th class="num">errors</th><th class="num">dead letters</th><th class="num">restore left</th></tr></thead><tbody id="tasks"></tbody></table></div></div>`;
  const proc = new LineChart(document.getElementById("c-proc"));
  const errs = new LineChart(document.getElementById("c-err"));
  const keyOf = l => Object.entries(l).filter(([k]) => k !== "le").map(([k, v]) => `${k}=${v}`).sort().join(" ");
  const pick = (metric, key) => x => {
    let t = null;
    for (const s of x.processors) if (s.name === metric && (key == null || keyOf(s.labels) === key)) t = (t ?? 0) + s.value;
    return t;
  };
  const isTask = se => se.name.startsWith("eddy_stream_task_");
  const ms = v => v == null || !isFinite(v) ? "–" : v < 1 ? (v * 1000).toFixed(2) + " µs" : v < 1000 ? v.toFixed(v < 10 ? 2 : 0) + " ms" : (v / 1000).toFixed(2) + " s";
  const updateTasks = s => {
    const tasks = new Map();
    for (const se of s.processors.filter(isTask)) {
      const k = keyOf(se.labels);
      if (!tasks.has(k)) tasks.set(k, { labels: se.labels, m: {} });
      tasks.get(k).m[se.name.replace(/^eddy_stream_task_/, "")] = se.value;
    }
    const keys = [...tasks.keys()].sort();
    document.getElementById("tasks").innerHTML = keys.length ? keys.map(k => {
      const { labels, m } = tasks.get(k);
      const latSum = live.rate(pick("eddy_stream_task_process_latency_seconds_sum", k));
      const latN = live.rate(pick("eddy_stream_task_process_latency_seconds_count", k));
      const lat = latN > 0 ? latSum / latN : m.process_latency_seconds_count > 0 ? m.process_latency_seconds_sum / m.process_latency_seconds_count : null;
      return html`<tr data-task="${esc(labels.app)}/${esc(labels.task)}"><td>${esc(labels.app)}</td><td>${esc(labels.task)}</td>
        <td>${m.running === 1 ? '<span class="pill good">running</span>' : m.standby === 1 ? html`<span class="pill info" title="changelog offsets not applied yet: ${m.standby_lag_records ?? "–"}">standby</span>` : '<span class="pill warn">restoring</span>'}</td>
        <td class="num">${niceNumber(m.records_total ?? 0)}</td><td class="num">${rate(live.rate(pick("eddy_stream_task_records_total", k)))}</td>
        <td class="num">${lat == null ? "–" : ms(lat * 1000)}</td><td class="num">${niceNumber(m.errors_total ?? 0)}</td>
        <td class="num">${niceNumber(m.dead_letters_total ?? 0)}</td><td class="num">${niceNumber(m.restore_remaining_records ?? 0)}</td></tr>`;
    }).join("") : '<tr><td class="empty" colspan="9">No tasks report metrics here.</td></tr>';
  };
  const update = () => {
    const s = live.latest();
    if (!s) return;
    updateTasks(s);
    const groups = new Map();
    for (const se of s.processors.filter(se => !isTask(se))) {
      const k = keyOf(se.labels);
      if (!groups.has(k)) groups.set(k, { labels: se.labels, m: {} });
      groups.get(k).m[se.name.replace(/^eddy_stream_/, "")] = se.value;
    }
    const metrics = [...new Set(s.processors.filter(se => !isTask(se)).map(x => x.name.replace(/^eddy_stream_/, "")))].sort();
    const keys = [...groups.keys()].sort();
    proc.set(keys.map(k => ({ name: k || "all", points: live.rateSeries(pick("eddy_stream_records_processed_total", k)) })));
    errs.set([{ name: "dead letters", points: live.rateSeries(pick("eddy_stream_dead_letter_records_total")) },
      { name: "errors", points: live.rateSeries(pick("eddy_stream_processing_errors_total")) }]);
    document.getElementById("head").innerHTML = `<tr><th>Processor</th>${metrics.map(m => `<th class="num">${esc(m.replace(/_total$/, "").replace(/_/g, " "))}</th>`).join("")}<th class="num">processed/s</th></tr>`;
    document.getElementById("rows").innerHTML = keys.length ? keys.map(k => html`<tr><td>${Object.entries(groups.get(k).labels).map(([a, b]) => `<span class="tag">${esc(a)}=${esc(b)}</span>`).join("")}</td>
      ${metrics.map(m => `<td class="num">${groups.get(k).m[m] == null ? "–" : niceNumber(groups.get(k).m[m])}</td>`).join("")}
      <td class="num">${rate(live.rate(pick("eddy_stream_records_processed_total", k)))}</td></tr>`).join("")
      : '<tr><td class="empty">No stream processors report metrics here. Applications register theirs on the broker\'s registry (see docs/http-api.md).</td></tr>';
  };
  update();
  return live.subscribe(update);
};

pages.alerts = async () => {
  main.innerHTML = html`<h1>Alerts</h1><p class="sub">Rules evaluated every second; a rule calls its webhook when it starts firing and when it resolves.</p>
    <div class="card section"><form class="inline" id="add">
      <label class="field">Name<input name="name" required placeholder="billing-lag"></label>
      <label class="field">When<select name="kind" id="kind"><option value="group_lag">group lag above</option><option value="dlq_rate">dead letters per second above</option></select></label>
      <label class="field" id="f-group">Group<input name="group" placeholder="billing" list="group-names"></label>
      <label class="field">Threshold<input name="threshold" type="number" min="0" step="any" value="1000" style="width:110px"></label>
      <label class="field">For (seconds)<input name="for" type="number" min="0" value="30" style="width:100px"></label>
      <label class="field">Webhook<input name="webhook" type="url" placeholder="https://…" style="width:240px"></label>
      <button>Add rule</button></form><datalist id="group-names"></datalist></div>
    <div class="table-wrap"><table><thead><tr><th>Rule</th><th>Condition</th><th>State</th><th class="num">Value</th><th>Since</th><th>Webhook</th><th></th></tr></thead>
    <tbody id="rows"></tbody></table></div>`;
  const $ = id => document.getElementById(id);
  $("kind").onchange = () => $("f-group").classList.toggle("hidden", $("kind").value !== "group_lag");
  get("/groups").then(r => { $("group-names").innerHTML = r.groups.map(g => `<option value="${esc(g.group)}">`).join(""); }).catch(() => {});
  const draw = alerts => {
    $("rows").innerHTML = alerts.length ? alerts.map(a => html`<tr data-alert="${esc(a.name)}"><td><b>${esc(a.name)}</b></td>
      <td>${a.kind === "group_lag" ? `lag of <a href="#/groups/${encodeURIComponent(a.group)}">${esc(a.group)}</a> &gt; ${niceNumber(a.threshold)}` : `dead letters &gt; ${niceNumber(a.threshold)}/s`} for ${a.for_seconds}s</td>
      <td>${statePill(a.state)}</td><td class="num">${niceNumber(a.value)}</td><td class="muted">${esc(time(a.since))}</td>
      <td class="mono">${esc(a.webhook || "–")}${a.last_webhook_error ? `<div class="pill bad" title="${esc(a.last_webhook_error)}">webhook failed</div>` : ""}</td>
      <td class="num"><button class="small danger" data-delete="${esc(a.name)}">delete</button></td></tr>`).join("")
      : '<tr><td colspan="7" class="empty">No alert rules yet.</td></tr>';
  };
  $("add").onsubmit = async ev => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const rule = { name: f.get("name"), kind: f.get("kind"), threshold: Number(f.get("threshold")), for_seconds: Number(f.get("for")) };
    if (rule.kind === "group_lag") rule.group = f.get("group");
    if (f.get("webhook")) rule.webhook = f.get("webhook");
    try { await api("POST", "/alerts", rule); toast(`Rule ${rule.name} saved`); draw((await get("/alerts")).alerts); } catch (e) { toast(e.message, true); }
  };
  $("rows").onclick = async ev => {
    const name = ev.target.dataset?.delete;
    if (!name) return;
    try { await api("DELETE", "/alerts/" + encodeURIComponent(name)); draw((await get("/alerts")).alerts); } catch (e) { toast(e.message, true); }
  };
  try { draw((await get("/alerts")).alerts); } catch (e) { toast(e.message, true); }
  return live.subscribe(s => draw(s.alerts));
};

pages.api = () => {
  main.innerHTML = html`<h1>HTTP API</h1><p class="sub">Everything this console shows comes from the JSON API, usable from any program: see docs/http-api.md in the repository.</p>
    <div class="card"><pre class="json">curl -s localhost:8080/api/v1/topics
curl -s localhost:8080/api/v1/topics/clicks/records -d '{"key":"user1","value":{"page":"/home"}}'
curl -s 'localhost:8080/api/v1/topics/clicks/records?partition=0&amp;offset=0&amp;limit=10'
curl -N localhost:8080/api/v1/topics/clicks/tail
curl -s localhost:8080/api/v1/groups
curl -s localhost:8080/metrics</pre></div>`;
};

// ---------- router ----------

const routes = [
  [/^\/?$/, "overview"], [/^\/overview$/, "overview"],
  [/^\/topics$/, "topics"], [/^\/topics\/(.+)$/, "topic"],
  [/^\/messages$/, "messages"],
  [/^\/groups$/, "groups"], [/^\/groups\/(.+)$/, "group"],
  [/^\/processors$/, "processors"], [/^\/alerts$/, "alerts"], [/^\/api$/, "api"],
];

let cleanup = null;

async function route() {
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  document.body.classList.remove("nav-open");
  const [path, qs] = location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(qs || "");
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    const nav = { topic: "topics", group: "groups" }[page] || page;
    document.querySelectorAll(".sidebar a[data-page]").forEach(a => a.classList.toggle("active", a.dataset.page === nav));
    document.title = `Eddy · ${nav[0].toUpperCase() + nav.slice(1)}`;
    const token = (route.token = {});
    const c = await pages[page](m.slice(1).map(decodeURIComponent), query);
    if (route.token !== token) { if (typeof c === "function") c(); return; }
    cleanup = typeof c === "function" ? c : null;
    return;
  }
  main.innerHTML = `<h1>Not found</h1><p class="sub">No page ${esc(path)}. <a href="#/overview">Overview</a></p>`;
}

window.addEventListener("hashchange", route);
window.addEventListener("error", ev => toast("Console error: " + ev.message, true));
window.addEventListener("unhandledrejection", ev => toast("Console error: " + (ev.reason?.message || ev.reason), true));
document.getElementById("menu").onclick = () => document.body.classList.toggle("nav-open");
live.subscribe(s => {
  const firing = s.alerts.filter(a => a.state === "firing").length;
  const b = document.getElementById("firing-count");
  b.textContent = firing;
  b.classList.toggle("hidden", !firing);
});
get("/cluster").then(c => { document.getElementById("cluster").textContent = `cluster ${c.cluster_id} · ${c.brokers.length} broker${c.brokers.length === 1 ? "" : "s"}`; }).catch(() => {});
route();

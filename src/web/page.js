// tcpack web console. Network text reaches the page only through
// textContent, never as markup: a client that sends <script> sees its bytes.
"use strict";

const MAX_MESSAGES = 3000;   // rows kept in the stream
const CHART_POINTS = 300;    // seconds of msgs/s in the chart

const $ = (id) => document.getElementById(id);
const token = (() => {
  const m = /(?:^|[#&])token=([^&]*)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("tcpack-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("tcpack-token") || "";
})();

const state = {
  relay: false,
  conns: new Map(),      // id -> {row, cells, out: {msgs, bytes}, closed}
  peers: new Map(),      // UDP peer -> {row, in, out}
  selected: null,
  hexAll: false,
  paused: false,
  rates: [],
  last: null,            // previous tick: {t, messages}
  dropped: 0,
  stopped: false,
};

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function time(ms) {
  const d = new Date(ms);
  const p = (n, w) => String(n).padStart(w, "0");
  return `${p(d.getHours(), 2)}:${p(d.getMinutes(), 2)}:${p(d.getSeconds(), 2)}.${p(d.getMilliseconds(), 3)}`;
}

function age(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (cls || "");
}

// ---- connections -------------------------------------------------------

function connRow(id) {
  let c = state.conns.get(id);
  if (c) return c;
  const row = el("tr");
  row.dataset.conn = id;
  const cells = {};
  for (const k of ["id", "peer", "upstream", "protocol", "tls", "since", "msgsIn", "bytesIn", "msgsOut", "bytesOut"]) {
    cells[k] = el("td", "", k === "upstream" ? "upstream" : k);
    row.appendChild(cells[k]);
  }
  cells.id.textContent = "#" + id;
  const close = el("button", "close", "close");
  close.type = "button";
  close.title = "close this connection";
  close.addEventListener("click", (ev) => {
    ev.stopPropagation();
    post("close", { conn: id });
  });
  const td = el("td");
  td.appendChild(close);
  row.appendChild(td);
  row.addEventListener("click", () => select(state.selected === id ? null : id));
  $("conns").tBodies[0].appendChild(row);
  c = { row, cells, out: { msgs: 0, bytes: 0 }, closed: false, since: Date.now() };
  state.conns.set(id, c);
  for (const sel of [$("send-to"), $("filter")]) {
    const o = el("option", "#" + id);
    o.value = id;
    sel.appendChild(o);
  }
  $("conn-count").textContent = `(${liveCount()})`;
  return c;
}

function liveCount() {
  let n = 0;
  for (const c of state.conns.values()) if (!c.closed) n++;
  return n;
}

function openConn(ev) {
  const c = connRow(ev.conn);
  c.cells.peer.textContent = ev.peer;
  c.cells.protocol.textContent = ev.protocol;
  c.cells.tls.textContent = ev.protocol === "tls" ? "yes" : "no";
  if (ev.upstream) c.cells.upstream.textContent = ev.upstream;
  c.since = ev.t || Date.now();
  c.cells.since.textContent = time(c.since);
}

function closeConn(id, reason) {
  const c = state.conns.get(id);
  if (!c || c.closed) return;
  c.closed = true;
  c.row.classList.add("closed");
  c.row.title = "closed: " + (reason || "");
  c.row.querySelector("button").disabled = true;
  for (const sel of [$("send-to"), $("filter")]) {
    for (const o of sel.options) if (o.value === String(id)) o.textContent = `#${id} (closed)`;
  }
  $("conn-count").textContent = `(${liveCount()})`;
  // Keep the last few closed rows; drop older ones.
  const closed = [...state.conns.entries()].filter(([, v]) => v.closed);
  for (const [cid, v] of closed.slice(0, Math.max(0, closed.length - 20))) {
    if (cid === state.selected) continue;
    v.row.remove();
    state.conns.delete(cid);
    for (const sel of [$("send-to"), $("filter")]) {
      for (const o of [...sel.options]) if (o.value === String(cid)) o.remove();
    }
  }
}

function select(id) {
  state.selected = id;
  for (const [cid, c] of state.conns) c.row.classList.toggle("selected", cid === id);
  $("send-to").value = id === null ? "" : String(id);
  $("filter").value = id === null ? "" : String(id);
  applyFilter();
}

function syncConns(list) {
  const seen = new Set();
  for (const r of list) {
    seen.add(r.conn);
    const c = connRow(r.conn);
    if (c.closed) continue;
    c.cells.peer.textContent = r.peer;
    c.cells.protocol.textContent = r.protocol;
    c.cells.tls.textContent = r.protocol === "tls" ? "yes" : "no";
    c.cells.since.textContent = age(r.age_ms) + " ago";
    c.cells.msgsIn.textContent = r.msgs_in;
    c.cells.bytesIn.textContent = r.bytes_in;
    c.cells.msgsOut.textContent = c.out.msgs;
    c.cells.bytesOut.textContent = c.out.bytes;
  }
  for (const [id, c] of state.conns) if (!seen.has(id) && !c.closed) closeConn(id, "gone");
}

// ---- messages ----------------------------------------------------------

function direction(from) {
  if (state.relay) return from === "client" ? "client→server" : "server→client";
  return from === "client" ? "in ←" : "out →";
}

function message(ev) {
  if (ev.conn !== null && ev.conn !== undefined) {
    const c = state.conns.get(ev.conn);
    if (c && ev.from === "server") {
      c.out.msgs += 1;
      c.out.bytes += ev.size;
      c.cells.msgsOut.textContent = c.out.msgs;
      c.cells.bytesOut.textContent = c.out.bytes;
    }
  } else if (ev.peer) {
    peer(ev);
  }
  if (state.paused) return;
  const row = el("div", null, "msg " + ev.from);
  row.dataset.conn = ev.conn === null || ev.conn === undefined ? "" : ev.conn;
  row.appendChild(el("span", time(ev.t), "time"));
  row.appendChild(el("span", ev.conn !== null && ev.conn !== undefined ? "#" + ev.conn : ev.peer, "conn"));
  row.appendChild(el("span", direction(ev.from), "dir"));
  row.appendChild(el("span", ev.size + "B", "size"));
  const content = el("span", "", "content");
  row.appendChild(content);
  const side = el("span", null, "side");
  if (ev.rule) side.appendChild(el("span", "rule " + ev.rule + " ", "rule"));
  const toggle = el("button", "hex", "toggle");
  toggle.type = "button";
  side.appendChild(toggle);
  row.appendChild(side);
  const shown = { hex: state.hexAll };
  const render = () => {
    content.textContent = (shown.hex ? ev.hex : ev.text) + (ev.cut ? " …" : "");
    toggle.textContent = shown.hex ? "text" : "hex";
  };
  toggle.addEventListener("click", () => { shown.hex = !shown.hex; render(); });
  row.rerender = (hex) => { shown.hex = hex; render(); };
  render();
  append(row);
}

// Drops in a row make one note, counted up, rather than a note a batch.
function dropped(count) {
  const last = $("stream").lastElementChild;
  if (last && last.dropped !== undefined) {
    last.dropped += count;
    last.textContent = `${last.dropped} events dropped (more than the page is sent a second, or it fell behind)`;
    return;
  }
  note(`${count} events dropped (more than the page is sent a second, or it fell behind)`);
  $("stream").lastElementChild.dropped = count;
}

function note(text) {
  const row = el("div", text, "note");
  row.dataset.conn = "";
  append(row);
}

function append(row) {
  const stream = $("stream");
  const atBottom = stream.scrollTop + stream.clientHeight >= stream.scrollHeight - 4;
  if (state.selected !== null && row.dataset.conn !== "" && row.dataset.conn !== String(state.selected)) {
    row.hidden = true;
  }
  stream.appendChild(row);
  while (stream.childElementCount > MAX_MESSAGES) stream.firstElementChild.remove();
  if (atBottom) stream.scrollTop = stream.scrollHeight;
}

function applyFilter() {
  const f = $("filter").value;
  for (const row of $("stream").children) {
    row.hidden = f !== "" && row.dataset.conn !== "" && row.dataset.conn !== f;
  }
}

function peer(ev) {
  $("udp-section").hidden = false;
  let p = state.peers.get(ev.peer);
  if (!p) {
    const row = el("tr");
    const cells = [el("td", ev.peer), el("td", "0"), el("td", "0"), el("td", "")];
    for (const c of cells) row.appendChild(c);
    $("peers").tBodies[0].appendChild(row);
    p = { row, cells, in: 0, out: 0 };
    state.peers.set(ev.peer, p);
  }
  if (ev.from === "client") p.in += 1; else p.out += 1;
  p.cells[1].textContent = p.in;
  p.cells[2].textContent = p.out;
  p.cells[3].textContent = time(ev.t);
}

// ---- counters, chart, rules --------------------------------------------

function counters(ev) {
  for (const k of ["active", "waiting", "connections_closed", "messages", "bytes", "bytes_out", "pushed", "errors"]) {
    if (ev[k] !== undefined) $("c-" + k).textContent = ev[k];
  }
  if (!state.stopped) {
    if (ev.phase === "draining") setStatus("draining", "draining");
    else setStatus("live", "live");
  }
  const now = ev.uptime_ms;
  // Messages per second: TCP and TLS messages, and UDP datagrams.
  const messages = ev.messages + (ev.udp ? ev.udp.datagrams : 0);
  if (state.last && now > state.last.t) {
    const rate = ((messages - state.last.messages) * 1000) / (now - state.last.t);
    $("c-rate").textContent = Math.round(rate);
    state.rates.push(Math.max(0, rate));
    if (state.rates.length > CHART_POINTS) state.rates.shift();
    chart();
  }
  state.last = { t: now, messages };
  if (ev.conns) syncConns(ev.conns);
  if (ev.rules) rules(ev.rules);
  if (ev.state) variables(ev.state);
  if (ev.udp) $("udp-section").hidden = false;
}

function chart() {
  const svg = $("chart");
  const max = Math.max(1, ...state.rates);
  const n = state.rates.length;
  // At least a minute wide, so the first points do not fill the chart.
  const step = 600 / Math.max(59, n - 1);
  const x0 = 600 - (n - 1) * step;
  const points = state.rates
    .map((r, i) => `${(x0 + i * step).toFixed(1)},${(118 - (r / max) * 114).toFixed(1)}`)
    .join(" ");
  let line = svg.querySelector("polyline");
  if (!line) {
    line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    svg.appendChild(line);
  }
  line.setAttribute("points", points);
  $("chart-max").textContent = Math.round(max);
  $("chart-span").textContent = n;
}

function rules(list) {
  const body = $("rules").tBodies[0];
  $("no-rules").hidden = list.length > 0;
  while (body.rows.length > list.length) body.deleteRow(-1);
  list.forEach((r, i) => {
    let row = body.rows[i];
    if (!row) {
      row = body.insertRow();
      for (let k = 0; k < 3; k++) row.appendChild(el("td"));
    }
    row.cells[0].textContent = r.number;
    row.cells[1].textContent = r.label;
    row.cells[2].textContent = r.hits;
  });
}

// The shared variables: global.NAME and key[KEY].NAME rows, as `state` lists them.
function variables(st) {
  $("state-section").hidden = false;
  const rows = [];
  for (const [name, value] of Object.entries(st.global || {})) rows.push(["global." + name, value]);
  for (const [key, vars] of Object.entries(st.keys || {})) {
    for (const [name, value] of Object.entries(vars)) rows.push([`key[${key}].${name}`, value]);
  }
  rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const body = $("variables").tBodies[0];
  $("no-variables").hidden = rows.length > 0;
  while (body.rows.length > rows.length) body.deleteRow(-1);
  rows.forEach(([name, value], i) => {
    let row = body.rows[i];
    if (!row) {
      row = body.insertRow();
      for (let k = 0; k < 2; k++) row.appendChild(el("td"));
    }
    row.cells[0].textContent = name;
    row.cells[1].textContent = JSON.stringify(value);
  });
}

// A rule's changes, as they happen: a row in the stream.
function changed(ev) {
  if (state.paused) return;
  const text = Object.entries(ev.changed).map(([n, v]) => `${n} = ${JSON.stringify(v)}`).join(", ");
  const row = el("div", null, "note changed");
  row.dataset.conn = ev.conn ? String(ev.conn) : "";
  row.appendChild(el("span", time(ev.t), "time"));
  row.appendChild(el("span", ev.conn ? "#" + ev.conn : "udp", "conn"));
  row.appendChild(el("span", `rule ${ev.rule} set ${text}`, "content"));
  append(row);
}

// ---- actions -----------------------------------------------------------

async function post(action, body) {
  const result = $("send-result");
  try {
    const res = await fetch("/api/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Tcpack-Token": token },
      body: JSON.stringify(body),
    });
    const answer = await res.json();
    result.textContent = answer.ok ? answer.message : answer.error;
    result.className = "result" + (answer.ok ? "" : " error");
  } catch (e) {
    result.textContent = String(e);
    result.className = "result error";
  }
}

function send(ev) {
  ev.preventDefault();
  const text = $("send-text").value;
  if (text === "") return;
  const to = $("send-to").value;
  post("send", {
    conn: to === "" ? null : Number(to),
    text,
    hex: $("send-hex-mode").checked,
    newline: $("send-newline").checked,
  });
}

// ---- the event stream --------------------------------------------------

function hello(ev) {
  state.relay = ev.mode === "relay";
  document.body.classList.toggle("relay", state.relay);
  $("mode").textContent = ev.mode;
  $("listen").textContent = ev.listen + (ev.to ? " → " + ev.to + (ev.to_tls ? " (TLS)" : "") : "");
  $("framing").textContent = "framing " + ev.framing + (ev.tls ? ", TLS" : "") + (ev.proto && ev.proto !== "tcp" ? ", " + ev.proto : "");
  if (state.relay) {
    for (const e of $("send-form").elements) e.disabled = true;
    $("send-result").textContent = "relay: the upstream answers the clients; the send box is off";
  }
  $("reload").disabled = !ev.reload;
  $("reload").title = ev.reload ? "re-read --rules FILE" : "needs --rules FILE";
  counters(ev);
}

function connect() {
  const es = new EventSource("/events" + (token ? "?token=" + encodeURIComponent(token) : ""));
  es.onopen = () => { if (!state.stopped) setStatus("live", "live"); };
  es.onerror = () => {
    if (state.stopped) return;
    setStatus("disconnected, retrying…", "");
  };
  es.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    switch (ev.type) {
      case "hello": hello(ev); break;
      case "tick": counters(ev); break;
      case "open": openConn(ev); break;
      case "close": closeConn(ev.conn, ev.reason); break;
      case "msg": message(ev); break;
      case "changed": changed(ev); break;
      case "dropped":
        state.dropped += ev.count;
        $("c-dropped").textContent = state.dropped;
        dropped(ev.count);
        break;
      case "stopped":
        state.stopped = true;
        setStatus("server stopped", "stopped");
        note("server stopped");
        es.close();
        for (const b of document.querySelectorAll("button, #send-text")) b.disabled = true;
        break;
    }
  };
}

// A token added to the address of an open page (…/#token=T) takes effect.
window.addEventListener("hashchange", () => {
  if (/(?:^|[#&])token=/.test(location.hash)) location.reload();
});

document.addEventListener("DOMContentLoaded", () => {
  $("send-form").addEventListener("submit", send);
  $("reload").addEventListener("click", () => post("reload", {}));
  $("pause").addEventListener("change", (e) => { state.paused = e.target.checked; });
  $("hex-all").addEventListener("change", (e) => {
    state.hexAll = e.target.checked;
    for (const row of $("stream").children) if (row.rerender) row.rerender(state.hexAll);
  });
  $("filter").addEventListener("change", (e) => select(e.target.value === "" ? null : Number(e.target.value)));
  $("send-to").addEventListener("change", (e) => select(e.target.value === "" ? null : Number(e.target.value)));
  $("clear").addEventListener("click", () => { $("stream").replaceChildren(); });
  connect();
});

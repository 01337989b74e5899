// topolab web view: draws the lab from the graph in the page, lays it out (force-directed,
// deterministic), then applies the ticks the server pushes over one event stream.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const graph = JSON.parse(document.getElementById("graph-data").textContent);
  const svg = document.getElementById("graph");
  const viewport = document.getElementById("viewport");
  const panel = document.getElementById("panel");
  const byName = new Map();
  const linkEls = new Map();
  let last = null;
  let selected = null;
  let ticks = 0;

  function el(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function h(tag, text, parent, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }

  // ---- layout ------------------------------------------------------------------------
  function layout(nodes, links) {
    const n = nodes.length;
    const idx = new Map(nodes.map((v, i) => [v.name, i]));
    const adj = nodes.map(() => []);
    const edges = [];
    for (const l of links) {
      const a = idx.get(l.a), b = idx.get(l.b);
      if (a === undefined || b === undefined || a === b) continue;
      edges.push([a, b]);
      adj[a].push(b);
      adj[b].push(a);
    }
    // Start: breadth-first order from the best-connected node, on a spiral, so that
    // neighbours start close and the result is the same on every load.
    const order = [], seen = new Array(n).fill(false), comp = new Array(n).fill(0);
    const starts = [...Array(n).keys()].sort((x, y) => adj[y].length - adj[x].length);
    let comps = 0;
    for (const s of starts) {
      if (seen[s]) continue;
      seen[s] = true;
      const q = [s];
      while (q.length) {
        const v = q.shift();
        order.push(v);
        comp[v] = comps;
        for (const w of adj[v]) if (!seen[w]) { seen[w] = true; q.push(w); }
      }
      comps++;
    }
    const x = new Float64Array(n), y = new Float64Array(n);
    order.forEach((v, i) => {
      const r = 30 * Math.sqrt(i + 1), t = i * 2.399963;
      x[v] = r * Math.cos(t);
      y[v] = r * Math.sin(t);
    });
    // Fruchterman–Reingold with a cooling step.
    const k = 60, iters = n > 150 ? 150 : 300;
    const dx = new Float64Array(n), dy = new Float64Array(n);
    let temp = 10 * Math.sqrt(n + 1) * 6;
    for (let it = 0; it < iters; it++) {
      dx.fill(0); dy.fill(0);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          let ex = x[i] - x[j], ey = y[i] - y[j];
          let d2 = ex * ex + ey * ey;
          if (d2 < 0.01) { ex = 0.1 * ((i % 7) - 3) + 0.05; ey = 0.1; d2 = ex * ex + ey * ey; }
          const f = (k * k) / d2;
          dx[i] += ex * f; dy[i] += ey * f;
          dx[j] -= ex * f; dy[j] -= ey * f;
        }
      }
      for (const [a, b] of edges) {
        const ex = x[a] - x[b], ey = y[a] - y[b];
        const d = Math.sqrt(ex * ex + ey * ey) + 0.01;
        const f = d / k;
        dx[a] -= ex * f; dy[a] -= ey * f;
        dx[b] += ex * f; dy[b] += ey * f;
      }
      for (let i = 0; i < n; i++) {
        // A weak pull to the centre keeps separate components together.
        dx[i] -= x[i] * 0.01; dy[i] -= y[i] * 0.01;
        const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) + 0.01;
        const m = Math.min(d, temp);
        x[i] += (dx[i] / d) * m;
        y[i] += (dy[i] / d) * m;
      }
      temp = Math.max(temp * 0.97, 1);
    }
    pack(x, y, comp, comps);
    return nodes.map((_, i) => [x[i], y[i]]);
  }

  // Separate components (islands, a controller reached over the management network) are
  // laid out apart, then packed in rows, biggest first, instead of drifting away.
  function pack(x, y, comp, comps) {
    if (comps < 2) return;
    const box = [];
    for (let c = 0; c < comps; c++) box.push({ c: c, x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity, n: 0 });
    for (let i = 0; i < x.length; i++) {
      const b = box[comp[i]];
      b.x0 = Math.min(b.x0, x[i]); b.x1 = Math.max(b.x1, x[i]);
      b.y0 = Math.min(b.y0, y[i]); b.y1 = Math.max(b.y1, y[i]);
      b.n++;
    }
    box.sort((a, b) => b.n - a.n || a.c - b.c);
    const gap = 80;
    let area = 0;
    for (const b of box) area += (b.x1 - b.x0 + gap) * (b.y1 - b.y0 + gap);
    const rowWidth = Math.max(Math.sqrt(area) * 1.3, box[0].x1 - box[0].x0 + gap);
    let cx = 0, cy = 0, rowH = 0;
    const shift = new Map();
    for (const b of box) {
      const w = b.x1 - b.x0 + gap, hh = b.y1 - b.y0 + gap;
      if (cx > 0 && cx + w > rowWidth) { cx = 0; cy += rowH; rowH = 0; }
      shift.set(b.c, [cx - b.x0, cy - b.y0]);
      cx += w;
      rowH = Math.max(rowH, hh);
    }
    for (let i = 0; i < x.length; i++) {
      const [sx, sy] = shift.get(comp[i]);
      x[i] += sx; y[i] += sy;
    }
  }

  // ---- shapes ------------------------------------------------------------------------
  function poly(sides, r, rot) {
    const p = [];
    for (let i = 0; i < sides; i++) {
      const t = rot + (i * 2 * Math.PI) / sides;
      p.push((r * Math.cos(t)).toFixed(1) + "," + (r * Math.sin(t)).toFixed(1));
    }
    return p.join(" ");
  }
  function shape(kind, parent) {
    switch (kind) {
      case "host": return el("circle", { r: 10, class: "shape" }, parent);
      case "router": return el("polygon", { points: poly(4, 13, 0), class: "shape" }, parent);
      case "bgp": return el("polygon", { points: poly(6, 14, 0), class: "shape" }, parent);
      case "switch": return el("rect", { x: -10, y: -10, width: 20, height: 20, class: "shape" }, parent);
      case "of_switch": {
        // A square with an inner square: a switch whose table a controller writes.
        const g = el("g", {}, parent);
        el("rect", { x: -11, y: -11, width: 22, height: 22, rx: 3, class: "shape" }, g);
        el("rect", { x: -5, y: -5, width: 10, height: 10, class: "shape" }, g);
        return g;
      }
      case "controller": return el("polygon", { points: poly(3, 13, -Math.PI / 2), class: "shape" }, parent);
      default: return el("circle", { r: 8, class: "shape" }, parent);
    }
  }

  // ---- drawing -----------------------------------------------------------------------
  function draw() {
    document.getElementById("lab").textContent = graph.lab;
    const t0 = performance.now();
    const pos = layout(graph.nodes, graph.links);
    document.body.dataset.layoutMs = (performance.now() - t0).toFixed(1);
    let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
    graph.nodes.forEach((v, i) => {
      const [x, y] = pos[i];
      byName.set(v.name, { node: v, x: x, y: y, el: null });
      minx = Math.min(minx, x); maxx = Math.max(maxx, x);
      miny = Math.min(miny, y); maxy = Math.max(maxy, y);
    });
    if (!isFinite(minx)) { minx = miny = -50; maxx = maxy = 50; }
    const m = 40;
    view = { x: minx - m, y: miny - m, w: maxx - minx + 2 * m, h: maxy - miny + 2 * m };
    setView();
    const linksG = document.getElementById("links");
    const labels = graph.links.length <= 60;
    for (const l of graph.links) {
      const a = byName.get(l.a), b = byName.get(l.b);
      if (!a || !b) continue;
      const g = el("g", { class: "link", "data-link": l.id, "data-state": "unknown" }, linksG);
      const ux = b.x - a.x, uy = b.y - a.y, d = Math.sqrt(ux * ux + uy * uy) || 1;
      const ox = (-uy / d) * 2, oy = (ux / d) * 2;
      el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "hit" }, g);
      const ab = el("line", { x1: a.x + ox, y1: a.y + oy, x2: b.x + ox, y2: b.y + oy, class: "dir", "stroke-width": 1.5 }, g);
      const ba = el("line", { x1: a.x - ox, y1: a.y - oy, x2: b.x - ox, y2: b.y - oy, class: "dir", "stroke-width": 1.5 }, g);
      const title = el("title", {}, g);
      title.textContent = l.a + ":" + l.a_iface + " — " + l.b + ":" + l.b_iface;
      let text = null;
      if (labels) text = el("text", { x: (a.x + b.x) / 2 + ox * 3, y: (a.y + b.y) / 2 + oy * 3, "text-anchor": "middle" }, g);
      g.addEventListener("click", (ev) => { ev.stopPropagation(); selectLink(l.id); });
      linkEls.set(l.id, { link: l, g: g, ab: ab, ba: ba, text: text, title: title });
    }
    const nodesG = document.getElementById("nodes");
    for (const v of graph.nodes) {
      const p = byName.get(v.name);
      const g = el("g", { class: "node", "data-node": v.name, "data-shape": v.shape, "data-state": "ok", transform: "translate(" + p.x.toFixed(1) + "," + p.y.toFixed(1) + ")" }, nodesG);
      shape(v.shape, g);
      const t = el("text", { y: 24, "text-anchor": "middle" }, g);
      t.textContent = v.name;
      const title = el("title", {}, g);
      title.textContent = v.name + " (" + v.kind + ")\n" + v.addrs.join("\n");
      g.addEventListener("click", (ev) => { ev.stopPropagation(); selectNode(v.name); });
      p.el = g;
    }
    legend();
    document.body.dataset.nodes = String(graph.nodes.length);
    document.body.dataset.links = String(graph.links.length);
    document.body.dataset.firstDrawMs = performance.now().toFixed(1);
  }

  function legend() {
    const lg = document.getElementById("legend");
    for (const [k, label] of [["host", "host"], ["router", "router"], ["bgp", "BGP"], ["switch", "switch"], ["of_switch", "OpenFlow switch"], ["controller", "controller"]]) {
      const s = document.createElementNS(SVG, "svg");
      s.setAttribute("width", 18); s.setAttribute("height", 18); s.setAttribute("viewBox", "-14 -14 28 28");
      const g = el("g", { class: "node", "data-state": "ok" }, s);
      shape(k, g);
      const span = h("span", null, lg);
      span.appendChild(s);
      span.appendChild(document.createTextNode(" " + label));
    }
  }

  // ---- pan and zoom ------------------------------------------------------------------
  let view = { x: 0, y: 0, w: 100, h: 100 };
  function setView() { svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" ")); }
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect();
    const f = ev.deltaY > 0 ? 1.15 : 1 / 1.15;
    const s = Math.max(view.w / r.width, view.h / r.height);
    const cx = view.x + (ev.clientX - r.left) * s, cy = view.y + (ev.clientY - r.top) * s;
    view = { x: cx - (cx - view.x) * f, y: cy - (cy - view.y) * f, w: view.w * f, h: view.h * f };
    setView();
  }, { passive: false });
  let drag = null;
  svg.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, v: Object.assign({}, view) }; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    const s = Math.max(view.w / r.width, view.h / r.height);
    view = Object.assign({}, drag.v, { x: drag.v.x - (ev.clientX - drag.x) * s, y: drag.v.y - (ev.clientY - drag.y) * s });
    setView();
  });

  // ---- live state --------------------------------------------------------------------
  function rate(bps) {
    if (bps >= 1e9) return (bps / 1e9).toFixed(2) + " Gb/s";
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + " Mb/s";
    if (bps >= 1e3) return (bps / 1e3).toFixed(1) + " kb/s";
    return bps.toFixed(0) + " b/s";
  }
  function width(bps) { return (1.5 + Math.min(6, Math.log10(1 + bps / 1000))).toFixed(2); }

  function apply(t) {
    const prev = last;
    last = t;
    ticks++;
    const prevLinks = new Map(prev ? prev.links.map((l) => [l.id, l]) : []);
    for (const l of t.links) {
      const e = linkEls.get(l.id);
      if (!e) continue;
      const p = prevLinks.get(l.id);
      const drops = l.a_to_b.drops + l.b_to_a.drops;
      const newDrops = p ? drops > p.a_to_b.drops + p.b_to_a.drops : false;
      let state = "up";
      if (!l.up) state = "down";
      else if (newDrops) state = "lossy";
      else if (l.a_to_b.bps + l.b_to_a.bps > 0) state = "busy";
      e.g.setAttribute("data-state", state);
      e.ab.setAttribute("stroke-width", width(l.a_to_b.bps));
      e.ba.setAttribute("stroke-width", width(l.b_to_a.bps));
      const desc = e.link.a + "→" + e.link.b + " " + rate(l.a_to_b.bps) + ", " + e.link.b + "→" + e.link.a + " " + rate(l.b_to_a.bps);
      e.title.textContent = e.link.a + ":" + e.link.a_iface + " — " + e.link.b + ":" + e.link.b_iface + (l.up ? "" : " (down)") + "\n" + desc;
      if (e.text) {
        const imp = (x) => (x && x !== "plain" ? x : "");
        const ia = imp(l.a_to_b.impair), ib = imp(l.b_to_a.impair);
        const settings = ia === ib ? ia : [ia, ib].filter((x) => x).join(" / ");
        const traffic = l.a_to_b.bps + l.b_to_a.bps > 0 ? rate(l.a_to_b.bps + l.b_to_a.bps) : "";
        e.text.textContent = !l.up ? "down" : [traffic, settings].filter((x) => x).join(" · ");
      }
    }
    for (const v of t.nodes) {
      const p = byName.get(v.name);
      if (p && p.el) p.el.setAttribute("data-state", v.state);
    }
    drawSessions(t);
    const errs = document.getElementById("errors");
    errs.textContent = t.errors.join("; ");
    document.body.dataset.ticks = String(ticks);
    if (selected && selected.kind === "link") showLink(selected.id, false);
  }

  function drawSessions(t) {
    const g = document.getElementById("sessions");
    while (g.firstChild) g.removeChild(g.firstChild);
    const add = (s, cls) => {
      if (!s.to_is_node) return;
      const a = byName.get(s.from), b = byName.get(s.to);
      if (!a || !b) return;
      const mx = (a.x + b.x) / 2 + (b.y - a.y) * 0.15, my = (a.y + b.y) / 2 - (b.x - a.x) * 0.15;
      el("path", { d: "M" + a.x + "," + a.y + " Q" + mx + "," + my + " " + b.x + "," + b.y, class: "session " + cls + (s.up ? " up" : " down"), "data-from": s.from, "data-to": s.to }, g);
    };
    t.bgp.forEach((s) => add(s, "bgp"));
    t.openflow.forEach((s) => add(s, "openflow"));
  }

  function connect() {
    const conn = document.getElementById("conn");
    const es = new EventSource("/api/events");
    es.addEventListener("tick", (ev) => {
      conn.textContent = "live";
      conn.className = "conn live";
      document.body.dataset.tickBytes = String(ev.data.length);
      apply(JSON.parse(ev.data));
    });
    es.onerror = () => { conn.textContent = "connection lost: retrying"; conn.className = "conn lost"; };
  }

  // ---- panels ------------------------------------------------------------------------
  function clearSelection() {
    document.querySelectorAll(".selected").forEach((e) => e.classList.remove("selected"));
  }
  function table(parent, head, rows) {
    const t = h("table", null, parent);
    const tr = h("tr", null, t);
    head.forEach((c) => h("th", c, tr));
    rows.forEach((r) => { const x = h("tr", null, t); r.forEach((c) => h("td", c, x)); });
    return t;
  }

  function selectLink(id) {
    clearSelection();
    const e = linkEls.get(id);
    if (!e) return;
    e.g.classList.add("selected");
    selected = { kind: "link", id: id };
    showLink(id, true);
  }

  function showLink(id, fresh) {
    const e = linkEls.get(id);
    const live = last ? last.links.find((l) => l.id === id) : null;
    let stats = document.getElementById("link-stats");
    if (fresh || !stats) {
      panel.textContent = "";
      h("h2", e.link.a + ":" + e.link.a_iface + " — " + e.link.b + ":" + e.link.b_iface, panel);
      h("p", "engine: " + e.link.engine, panel);
      stats = h("div", null, panel);
      stats.id = "link-stats";
      const act = h("div", null, panel);
      h("h3", "Actions", act);
      const down = h("button", "Take down", act);
      down.addEventListener("click", () => linkAction(id, { action: "down" }));
      const up = h("button", "Bring up", act);
      up.addEventListener("click", () => linkAction(id, { action: "up" }));
      h("h3", "Set impairments", act);
      h("p", "KEY=VALUE…, as `topolab link LAB A B set`: rate, delay, jitter, loss, duplicate, corrupt, reorder, queue…; prefix a_to_b. or b_to_a. for one direction.", act, "hint");
      const input = h("input", null, act);
      input.type = "text";
      input.placeholder = "delay=20ms loss=1%";
      input.id = "link-set";
      const set = h("button", "Set", act);
      const go = () => {
        const words = input.value.trim().split(/\s+/).filter((w) => w.length > 0);
        linkAction(id, { action: "set", set: words });
      };
      set.addEventListener("click", go);
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") go(); });
      const res = h("p", null, act);
      res.id = "link-result";
    }
    stats.textContent = "";
    if (!live) { h("p", "waiting for the first update…", stats, "hint"); return; }
    h("p", live.up ? "state: up" : "state: DOWN", stats, live.up ? "ok" : "err");
    table(stats, ["", e.link.a + "→" + e.link.b, e.link.b + "→" + e.link.a], [
      ["rate", rate(live.a_to_b.bps), rate(live.b_to_a.bps)],
      ["packets/s", live.a_to_b.pps.toFixed(1), live.b_to_a.pps.toFixed(1)],
      ["packets", live.a_to_b.packets, live.b_to_a.packets],
      ["bytes", live.a_to_b.bytes, live.b_to_a.bytes],
      ["drops", live.a_to_b.drops, live.b_to_a.drops],
      ["impairments", live.a_to_b.impair || "none", live.b_to_a.impair || "none"],
    ]);
  }

  function linkAction(id, body) {
    const res = document.getElementById("link-result");
    res.textContent = "…";
    res.className = "";
    fetch("/api/link/" + encodeURIComponent(id), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then((r) => r.json().then((j) => [r.ok, j])).then(([ok, j]) => {
      res.textContent = ok ? "done" : (j.error || "failed");
      res.className = ok ? "ok" : "err";
    }).catch((e) => { res.textContent = String(e); res.className = "err"; });
  }

  function selectNode(name) {
    clearSelection();
    const p = byName.get(name);
    if (p && p.el) p.el.classList.add("selected");
    selected = { kind: "node", name: name };
    panel.textContent = "";
    h("h2", name + " (" + p.node.kind + ")", panel);
    const body = h("div", "loading…", panel);
    fetch("/api/node/" + encodeURIComponent(name)).then((r) => r.json()).then((j) => {
      if (!selected || selected.name !== name) return;
      body.textContent = "";
      if (j.error) { h("p", j.error, body, "err"); return; }
      const k = j.kernel || {};
      if (k.error) h("p", k.error, body, "err");
      const counters = new Map((k.counters || []).map((c) => [c.ifindex, c]));
      const addrs = (i) => (k.addrs || []).filter((a) => a.ifindex === i).map((a) => a.addr).join(" ");
      const names = new Map((k.links || []).map((l) => [l.ifindex, l.name]));
      h("h3", "Interfaces", body);
      table(body, ["name", "state", "mac / mtu", "addresses", "rx / tx bytes"], (k.links || []).map((l) => {
        const c = counters.get(l.ifindex) || {};
        return [l.name, l.up ? l.oper : "down", (l.mac || "-") + " / " + (l.mtu || "-"), addrs(l.ifindex), (c.rx_bytes || 0) + " / " + (c.tx_bytes || 0)];
      }));
      h("h3", "Routes", body);
      table(body, ["destination", "via", "dev", "proto"], (k.routes || []).map((r) => [r.dst, r.via || "", names.get(r.dev) || "", r.proto]));
      h("h3", "Services", body);
      if (Array.isArray(j.services)) {
        if (j.services.length === 0) h("p", "none", body, "hint");
        j.services.forEach((s) => {
          h("p", s.name + " [" + s.state + "]" + (s.pid ? " pid " + s.pid : "") + (s.restarts ? " restarts " + s.restarts : "") + ": " + s.what, body);
          if (s.log_tail && s.log_tail.length) h("pre", s.log_tail.join("\n"), body);
        });
      } else if (j.services && j.services.error) h("p", j.services.error, body, "err");
      if (j.bgp) {
        h("h3", "BGP", body);
        const nb = Array.isArray(j.bgp.neighbors) ? j.bgp.neighbors : [];
        h("p", "AS " + j.bgp.asn + ", router id " + j.bgp.router_id + ", Loc-RIB " + j.bgp.loc_rib + " prefixes", body);
        table(body, ["peer", "address", "AS", "state", "received", "advertised"], nb.map((n) => [n.name, n.address, n.remote_as, n.state, n.received, n.advertised]));
      }
      if (j.openflow) {
        h("h3", "OpenFlow", body);
        h("pre", JSON.stringify(j.openflow, null, 1), body);
      }
    }).catch((e) => { body.textContent = String(e); });
  }

  svg.addEventListener("click", () => { clearSelection(); selected = null; });

  draw();
  connect();
})();

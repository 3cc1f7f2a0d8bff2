// The ring page's script: it draws the snapshots the node pushes on /ring/events (one stream
// per page), asks /ring/preflist where a key lives, browses the streams of the stream
// database when the node has one (/buckets/, /streams/…, /listen), and charts the node's
// counters. Plain JavaScript and standard browser APIs, no library: it runs as it is, offline,
// in Chromium and Firefox.
//
// What tests read: every partition's arc is a <path class="arc"> with data-partition (its
// index), data-owner, data-next-owner while it has one, data-progress and data-handoff while
// a transfer of it is under way, and data-highlight ("primary" or "fallback") when it is in
// the preference list of the key asked for; every member's legend entry is an <li> with
// data-member and data-status; the <svg> says which ring version it drew (data-ring-version).
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  // Okabe and Ito's palette, which colour-blind readers tell apart; the arcs carry their
  // owner's number too, for whoever still cannot.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  // Radii, in the SVG's units (the ring is drawn in a 1000 × 1000 box around 0, 0).
  const R = { inner: 255, outer: 400, bandIn: 410, bandOut: 448, label: 330, number: 476, keyDot: 225 };
  const CHART_SECONDS = 60;

  const $ = (id) => document.getElementById(id);

  // Black or white, whichever reads better on `colour` (by WCAG's relative luminance: black
  // above 0.18, where both give the same contrast).
  function inkOn(colour) {
    const channel = (at) => {
      const c = parseInt(colour.slice(at, at + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    return luminance > 0.18 ? "#000" : "#fff";
  }
  const page = {
    state: null,
    // member name → { colour, number }: kept for the page's life, so that a member keeps its
    // colour when others join or leave.
    members: new Map(),
    arcs: [], // by partition index: { arc, band, progress, hatch, label, title }
    key: null, // { bucket, key, n } asked for, if any
    preflist: null, // the node's last answer for it
    asking: false,
    askAgain: false,
    samples: [], // { t, counters }, one a second
    token: sessionStorage.getItem("ring-page-token"),
    feed: null, // the EventSource of the stream shown, if any
    // The list of buckets shown, if that is what the streams panel shows: when it was asked
    // for and the node's count of writes then, to ask again once there were more writes.
    bucketsShown: null,
  };

  // ---------------------------------------------------------------------------------------
  // Geometry: a fraction of the ring (0 at the top, growing clockwise) to a point.

  function point(fraction, radius) {
    const angle = 2 * Math.PI * fraction;
    return [radius * Math.sin(angle), -radius * Math.cos(angle)];
  }

  // The band between two radii, from one fraction of the ring to another.
  function sector(from, to, inner, outer) {
    const large = to - from > 0.5 ? 1 : 0;
    const [x0, y0] = point(from, outer);
    const [x1, y1] = point(to, outer);
    const [x2, y2] = point(to, inner);
    const [x3, y3] = point(from, inner);
    const f = (n) => n.toFixed(2);
    return `M${f(x0)} ${f(y0)} A${outer} ${outer} 0 ${large} 1 ${f(x1)} ${f(y1)} ` +
      `L${f(x2)} ${f(y2)} A${inner} ${inner} 0 ${large} 0 ${f(x3)} ${f(y3)} Z`;
  }

  // Partition p holds the hashes from the start of p − 1 up to its own start (its id): a key's
  // hash falls inside the arc of the partition it belongs to.
  function span(index, size) {
    const from = ((index - 1 + size) % size) / size;
    return [from, from + 1 / size];
  }

  function element(name, attributes, parent) {
    const made = document.createElementNS(SVG, name);
    for (const [attribute, value] of Object.entries(attributes || {})) {
      made.setAttribute(attribute, value);
    }
    if (parent) parent.appendChild(made);
    return made;
  }

  function html(name, attributes, text) {
    const made = document.createElement(name);
    for (const [attribute, value] of Object.entries(attributes || {})) {
      made.setAttribute(attribute, value);
    }
    if (text !== undefined) made.textContent = text;
    return made;
  }

  // ---------------------------------------------------------------------------------------
  // The ring.

  // Makes the arcs of a ring of `size` partitions (once, and again if the size changes).
  function buildRing(size) {
    const groups = ["arcs", "overlays", "labels"].map((id) => $(id));
    groups.forEach((group) => group.replaceChildren());
    const [arcs, overlays, labels] = groups;
    page.arcs = [];
    for (let index = 0; index < size; index++) {
      const [from, to] = span(index, size);
      const arc = element("path", { class: "arc", d: sector(from, to, R.inner, R.outer), "data-partition": index }, arcs);
      const title = element("title", {}, arc);
      const band = element("path", { class: "next-band", d: sector(from, to, R.bandIn, R.bandOut) }, overlays);
      const progress = element("path", { class: "progress" }, overlays);
      const hatch = element("path", { class: "hatch", d: sector(from, to, R.inner, R.outer) }, overlays);
      const [x, y] = point((from + to) / 2, R.label);
      const label = element("text", { class: "arc-label", x: x.toFixed(1), y: y.toFixed(1) }, labels);
      page.arcs.push({ arc, title, band, progress, hatch, label, from, to });
    }
  }

  function member(name) {
    if (!page.members.has(name)) {
      const taken = new Set([...page.members.values()].map((m) => m.number));
      let number = 1;
      while (taken.has(number)) number++;
      page.members.set(name, { number, colour: PALETTE[(number - 1) % PALETTE.length] });
    }
    return page.members.get(name);
  }

  function show(target, visible) {
    if (visible) target.removeAttribute("visibility");
    else target.setAttribute("visibility", "hidden");
  }

  function drawRing(state) {
    const svg = $("ring");
    if (page.arcs.length !== state.ring_size) buildRing(state.ring_size);
    const down = new Set(state.members.filter((m) => m.status === "down").map((m) => m.name));
    for (const partition of state.partitions) {
      const drawn = page.arcs[partition.index];
      const owner = member(partition.owner);
      drawn.arc.setAttribute("fill", owner.colour);
      drawn.arc.setAttribute("data-owner", partition.owner);
      drawn.arc.classList.toggle("down", down.has(partition.owner));
      show(drawn.hatch, down.has(partition.owner));
      drawn.label.textContent = owner.number;
      drawn.label.setAttribute("fill", inkOn(owner.colour));
      let title = `partition ${partition.index} (${partition.id}) owned by ${partition.owner}`;

      if (partition.next_owner) {
        const next = member(partition.next_owner);
        drawn.arc.setAttribute("data-next-owner", partition.next_owner);
        drawn.band.setAttribute("fill", next.colour);
        show(drawn.band, true);
        title += `, next ${partition.next_owner}`;
      } else {
        drawn.arc.removeAttribute("data-next-owner");
        show(drawn.band, false);
      }

      if (partition.progress !== undefined) {
        // The transfer fills the arc from the inside, in the colour of where the data goes.
        const to = member(partition.next_owner || partition.owner);
        const reach = R.inner + (R.outer - R.inner) * Math.min(partition.progress, 100) / 100;
        drawn.progress.setAttribute("d", sector(drawn.from, drawn.to, R.inner, Math.max(reach, R.inner + 4)));
        drawn.progress.setAttribute("fill", to.colour);
        drawn.progress.classList.toggle("hinted", partition.handoff === "hinted");
        show(drawn.progress, true);
        drawn.arc.setAttribute("data-progress", partition.progress);
        drawn.arc.setAttribute("data-handoff", partition.handoff);
        title += `; ${partition.handoff} transfer ${partition.progress}% done`;
      } else {
        show(drawn.progress, false);
        drawn.arc.removeAttribute("data-progress");
        drawn.arc.removeAttribute("data-handoff");
      }
      drawn.title.textContent = title;
    }

    // The range anti-entropy exchanged last, outlined.
    const exchanged = new Set(state.anti_entropy.filter((a) => a.last).map((a) => a.last.range));
    page.arcs.forEach((drawn, index) => {
      if (exchanged.has(index)) drawn.arc.setAttribute("data-aae", "");
      else drawn.arc.removeAttribute("data-aae");
    });

    svg.setAttribute("data-ring-version", state.ring_version);
    svg.setAttribute("data-settled", state.settled);
    drawCentre(state);
  }

  function drawCentre(state) {
    const moving = state.partitions.filter((p) => p.next_owner).length;
    if (page.preflist) {
      $("centre-big").textContent = `${page.preflist.bucket}/${page.preflist.key}`;
      $("centre-small").textContent = `partition ${page.preflist.partition}`;
      $("centre-more").textContent = `n = ${page.preflist.n}`;
    } else {
      $("centre-big").textContent = `${state.ring_size}`;
      $("centre-small").textContent = "partitions";
      $("centre-more").textContent = moving ? `${moving} to move` : `ring version ${state.ring_version}`;
    }
  }

  // ---------------------------------------------------------------------------------------
  // The panels.

  // A member's name without its host when every member is on the same host (dev1, not
  // dev1@127.0.0.1), for the lines that are short of room; in full otherwise.
  function shortName(name) {
    const hosts = new Set((page.state ? page.state.members : []).map((m) => m.name.split("@")[1]));
    return hosts.size === 1 ? name.split("@")[0] : name;
  }

  function percent(value) {
    return `${value.toFixed(1)}%`;
  }

  function drawLegend(state) {
    const legend = $("legend");
    legend.replaceChildren();
    for (const m of state.members) {
      const drawn = member(m.name);
      const item = html("li", { "data-member": m.name, "data-status": m.status });
      const swatch = html("span", { class: "swatch" }, drawn.number);
      swatch.style.background = drawn.colour;
      swatch.style.color = inkOn(drawn.colour);
      const share = m.pending_pct === undefined
        ? percent(m.ring_pct)
        : `${percent(m.ring_pct)} → ${percent(m.pending_pct)}`;
      const plural = m.partitions === 1 ? "partition" : "partitions";
      item.append(
        swatch,
        html("span", { class: "member-name" }, m.name),
        html("span", { class: "member-status" }, `${m.status} · ${m.partitions} ${plural}`),
        html("span", { class: "member-share" }, share),
      );
      legend.appendChild(item);
    }
  }

  function drawSummary(state) {
    const moving = state.partitions.filter((p) => p.next_owner).length;
    const members = `${state.members.length} member${state.members.length === 1 ? "" : "s"}`;
    const how = state.settled ? "settled" : `${moving} partition${moving === 1 ? "" : "s"} to move`;
    $("summary").textContent = `${members} · ${state.ring_size} partitions · ring version ${state.ring_version} · ${how}`;
  }

  function drawTransfers(state) {
    const waiting = state.waiting.map((w) =>
      `${shortName(w.node)} waiting to handoff ${w.partitions} partition${w.partitions === 1 ? "" : "s"}`);
    $("waiting").textContent = waiting.length || state.transfers.length
      ? waiting.join("; ")
      : "No transfers active";
    const list = $("transfers");
    list.replaceChildren();
    for (const t of state.transfers) {
      const item = html("li", { "data-partition": t.partition, "data-kind": t.kind });
      item.title = `${t.kind} transfer of ${t.vnode_type} ${t.partition_id} from ${t.source} to ${t.target}`;
      item.appendChild(html("div", { class: "what" },
        `partition ${t.partition}: ${shortName(t.source)} → ${shortName(t.target)} (${t.kind})`));
      const bar = html("div", { class: "bar" });
      const fill = html("span");
      fill.style.width = `${t.percent === null ? 0 : t.percent}%`;
      fill.style.background = member(t.target).colour;
      bar.appendChild(fill);
      item.appendChild(bar);
      const done = t.percent === null ? "" : ` · ${t.percent}%`;
      item.appendChild(html("div", { class: "numbers" },
        `${t.objects} objects · ${t.bytes}${done}`));
      list.appendChild(item);
    }
    const aae = $("aae");
    aae.hidden = state.anti_entropy.length === 0;
    aae.textContent = state.anti_entropy.map((a) => {
      const repaired = `${a.repaired} entr${a.repaired === 1 ? "y" : "ies"} repaired`;
      const last = a.last ? `; last: range ${a.last.range}, ${a.last.outcome}` : "";
      const exchanges = `${a.exchanges} exchange${a.exchanges === 1 ? "" : "s"}`;
      return `Anti-entropy here: ${exchanges} of ${a.ranges} ranges, ${repaired}${last}`;
    }).join(". ");
  }

  // ---------------------------------------------------------------------------------------
  // A key and its preference list.

  async function askPreflist() {
    if (!page.key) return;
    if (page.asking) {
      page.askAgain = true;
      return;
    }
    page.asking = true;
    try {
      const query = new URLSearchParams(page.key);
      const answer = await fetch(`/ring/preflist?${query}`);
      const body = await answer.json();
      if (answer.ok) {
        page.preflist = body;
        drawPreflist();
      } else {
        $("key-where").textContent = body.reason || `error ${answer.status}`;
      }
    } catch (error) {
      $("key-where").textContent = `the node did not answer: ${error}`;
    } finally {
      page.asking = false;
      if (page.askAgain) {
        page.askAgain = false;
        askPreflist();
      }
    }
  }

  function drawPreflist() {
    const answer = page.preflist;
    const svg = $("ring");
    const mark = $("key-mark");
    mark.replaceChildren();
    page.arcs.forEach((drawn) => drawn.arc.removeAttribute("data-highlight"));
    const list = $("preflist");
    list.replaceChildren();
    if (!answer) {
      svg.classList.remove("highlighting");
      return;
    }
    svg.classList.add("highlighting");
    const primaryOf = new Map(answer.primaries.map((p) => [p.partition, p.node]));
    answer.preflist.forEach((entry, at) => {
      const drawn = page.arcs[entry.partition];
      if (!drawn) return;
      drawn.arc.setAttribute("data-highlight", entry.replica);
      const [x, y] = point((drawn.from + drawn.to) / 2, R.number);
      element("text", { class: "replica-number", x: x.toFixed(1), y: y.toFixed(1) }, mark).textContent = at + 1;
      const item = html("li", { "data-partition": entry.partition, "data-node": entry.node, "data-replica": entry.replica });
      item.append(`${at + 1}. partition ${entry.partition} on ${shortName(entry.node)} `);
      item.title = entry.node;
      const why = entry.replica === "fallback" ? `fallback for ${primaryOf.get(entry.partition)}` : "primary";
      item.appendChild(html("span", { class: "replica" }, why));
      list.appendChild(item);
    });
    // Where the key's hash falls: a line across the ring, and a dot inside it.
    const [x0, y0] = point(answer.position, R.inner - 20);
    const [x1, y1] = point(answer.position, R.outer + 8);
    element("line", { class: "key-line", x1: x0, y1: y0, x2: x1, y2: y1 }, mark);
    const [dx, dy] = point(answer.position, R.keyDot);
    element("circle", { class: "key-dot", cx: dx, cy: dy, r: 14 }, mark);
    const missing = answer.n - answer.preflist.length;
    $("key-where").textContent =
      `${answer.bucket}/${answer.key} hashes to ${(answer.position * 100).toFixed(1)}% of the ring: ` +
      `partition ${answer.partition}. Its ${answer.n} replica${answer.n === 1 ? "" : "s"}:` +
      (missing > 0 ? ` (${missing} missing: too few nodes are up)` : "");
    if (page.state) drawCentre(page.state);
  }

  // ---------------------------------------------------------------------------------------
  // The numbers: rates from the counters of two snapshots a second apart.

  function sample() {
    if (!page.state) return;
    page.samples.push({ t: performance.now() / 1000, counters: page.state.counters });
    while (page.samples.length > CHART_SECONDS + 1) page.samples.shift();
    const rates = [];
    for (let i = 1; i < page.samples.length; i++) {
      const [a, b] = [page.samples[i - 1], page.samples[i]];
      const seconds = Math.max(b.t - a.t, 0.001);
      const writes = b.counters.writes - a.counters.writes;
      const reads = b.counters.reads - a.counters.reads;
      rates.push({
        writes: writes / seconds,
        reads: reads / seconds,
        writeMs: writes > 0 ? 1000 * (b.counters.write_seconds - a.counters.write_seconds) / writes : null,
        readMs: reads > 0 ? 1000 * (b.counters.read_seconds - a.counters.read_seconds) / reads : null,
      });
    }
    const last = rates[rates.length - 1];
    if (!last) return;
    $("writes-now").textContent = last.writes.toFixed(0);
    $("reads-now").textContent = last.reads.toFixed(0);
    const ms = [last.writeMs, last.readMs].filter((v) => v !== null);
    $("latency-now").textContent = ms.length ? ms.map((v) => v.toFixed(1)).join(" / ") : "–";
    chart($("chart-writes"), [{ values: rates.map((r) => r.writes), colour: PALETTE[0] }]);
    chart($("chart-reads"), [{ values: rates.map((r) => r.reads), colour: PALETTE[1] }]);
    chart($("chart-latency"), [
      { values: rates.map((r) => r.writeMs), colour: PALETTE[0] },
      { values: rates.map((r) => r.readMs), colour: PALETTE[1], dashed: true },
    ]);
  }

  // Lines of values (null: no value) over the last minute, scaled to the largest.
  function chart(canvas, series) {
    const scale = window.devicePixelRatio || 1;
    const width = Math.max(canvas.clientWidth, 50);
    const height = Math.max(canvas.clientHeight, 30);
    if (canvas.width !== Math.round(width * scale)) {
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
    }
    const g = canvas.getContext("2d");
    g.setTransform(scale, 0, 0, scale, 0, 0);
    g.clearRect(0, 0, width, height);
    const all = series.flatMap((s) => s.values).filter((v) => v !== null);
    const most = Math.max(0, ...all);
    const top = Math.max(1, most) * 1.1;
    g.font = "12px system-ui, sans-serif";
    g.fillStyle = "#555";
    g.fillText(`max ${most >= 10 ? most.toFixed(0) : most.toFixed(1)}`, 3, 12);
    const step = width / CHART_SECONDS;
    for (const s of series) {
      g.strokeStyle = s.colour;
      g.lineWidth = 2.5;
      g.setLineDash(s.dashed ? [6, 4] : []);
      g.beginPath();
      let drawing = false;
      const start = CHART_SECONDS - s.values.length;
      s.values.forEach((value, i) => {
        if (value === null) {
          drawing = false;
          return;
        }
        const x = (start + i + 1) * step;
        const y = height - 2 - (height - 16) * value / top;
        if (drawing) g.lineTo(x, y);
        else g.moveTo(x, y);
        drawing = true;
      });
      g.stroke();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Streams: shown only when the node answers /buckets/ (the stream database's API).

  function api(path, options) {
    const headers = Object.assign({}, (options && options.headers) || {});
    if (page.token) headers["X-Session"] = page.token;
    return fetch(path, Object.assign({}, options || {}, { headers }));
  }

  function encode(name) {
    return encodeURIComponent(name);
  }

  async function showBuckets() {
    let answer;
    try {
      answer = await api("/buckets/");
    } catch (error) {
      return;
    }
    const panel = $("streams-panel");
    if (answer.status === 404) {
      // No stream database on this node: nothing to browse.
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    if (answer.status === 401) {
      $("login-form").hidden = false;
      return;
    }
    $("login-form").hidden = true;
    const body = await answer.json();
    path([{ label: "buckets", go: showBuckets }]);
    choices(body.data || [], (bucket) => showStreams(bucket));
    page.bucketsShown = { at: Date.now(), writes: page.state ? page.state.counters.writes : 0 };
  }

  // The buckets listed may be out of date once the node has taken writes: list them again,
  // at most every few seconds (a listing asks every partition).
  function refreshBuckets(state) {
    const shown = page.bucketsShown;
    if (shown && state.counters.writes !== shown.writes && Date.now() - shown.at > 3000) {
      page.bucketsShown = null;
      showBuckets();
    }
  }

  async function showStreams(bucket) {
    const answer = await api(`/streams/${encode(bucket)}`);
    const body = await answer.json();
    path([{ label: "buckets", go: showBuckets }, { label: bucket, go: () => showStreams(bucket) }]);
    choices(answer.ok ? body.data || [] : [], (stream) => showEntries(bucket, stream));
    if (!answer.ok) entriesNote(body.reason || `error ${answer.status}`);
  }

  async function showEntries(bucket, stream) {
    path([
      { label: "buckets", go: showBuckets },
      { label: bucket, go: () => showStreams(bucket) },
      { label: stream, go: () => showEntries(bucket, stream) },
    ]);
    choices([], null);
    const answer = await api(`/streams/${encode(bucket)}/${encode(stream)}?limit=10`);
    const body = await answer.json();
    if (!answer.ok) {
      entriesNote(body.reason || `error ${answer.status}`);
      return;
    }
    for (const entry of body) addEntry(entry, false);
    // Its live feed: every new entry as it is written, whichever node takes it.
    const query = new URLSearchParams({ s: `${bucket}:${stream}` });
    if (page.token) query.set("jwt", page.token);
    page.feed = new EventSource(`/listen?${query}`);
    page.feed.addEventListener("entry", (event) => addEntry(JSON.parse(event.data), true));
  }

  // The trail of where the browser is: buckets › bucket › stream.
  function path(steps) {
    page.bucketsShown = null;
    if (page.feed) {
      page.feed.close();
      page.feed = null;
    }
    $("entries").replaceChildren();
    const nav = $("stream-path");
    nav.replaceChildren();
    steps.forEach((step, at) => {
      if (at > 0) nav.append(" › ");
      const button = html("button", { type: "button" }, step.label);
      button.addEventListener("click", step.go);
      nav.appendChild(button);
    });
  }

  function choices(names, pick) {
    const list = $("stream-list");
    list.replaceChildren();
    for (const name of names) {
      const item = html("li");
      const button = html("button", { type: "button", "data-name": name }, name);
      button.addEventListener("click", () => pick(name));
      item.appendChild(button);
      list.appendChild(item);
    }
  }

  function entriesNote(text) {
    $("entries").replaceChildren(html("li", { class: "error" }, text));
  }

  // An entry ({"meta": {"id", "t", …}, "data": …}), newest first; at most 10 shown.
  function addEntry(entry, fresh) {
    const list = $("entries");
    const item = html("li", { "data-seq": entry.meta.id });
    item.classList.toggle("fresh", fresh);
    item.append(
      html("span", { class: "seq" }, `#${entry.meta.id} `),
      html("span", { class: "when" }, `${new Date(entry.meta.t).toLocaleTimeString()} `),
      JSON.stringify(entry.data).slice(0, 200),
    );
    list.prepend(item);
    while (list.children.length > 10) list.lastChild.remove();
  }

  async function logIn(event) {
    event.preventDefault();
    const answer = await fetch("/sessions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("login-user").value, password: $("login-password").value }),
    });
    const body = await answer.json();
    const error = $("login-error");
    if (!answer.ok) {
      error.hidden = false;
      error.textContent = body.reason || `error ${answer.status}`;
      return;
    }
    error.hidden = true;
    page.token = body.token;
    sessionStorage.setItem("ring-page-token", body.token);
    showBuckets();
  }

  // ---------------------------------------------------------------------------------------
  // The stream of snapshots.

  function draw(state) {
    const first = page.state === null;
    page.state = state;
    // The charts count from the first snapshot on, not from the first tick after it.
    if (first) sample();
    // Colours and numbers go to the members in name order, the first time each is seen.
    state.members.forEach((m) => member(m.name));
    drawRing(state);
    drawLegend(state);
    drawSummary(state);
    drawTransfers(state);
    // The charts, once the node has counted a request: an application without the stream
    // database (exercises 0 to 2) counts none, and empty charts would only puzzle.
    if (state.counters.writes + state.counters.reads > 0) $("numbers-panel").hidden = false;
    refreshBuckets(state);
    // The owners may have changed: ask again where the key lives.
    askPreflist();
  }

  function connection(status, text) {
    const shown = $("connection");
    shown.hidden = false;
    shown.setAttribute("data-state", status);
    shown.textContent = text;
  }

  function listen() {
    const events = new EventSource("/ring/events");
    events.addEventListener("open", () => connection("live", "live"));
    events.addEventListener("state", (event) => draw(JSON.parse(event.data)));
    events.addEventListener("error", () => {
      // The browser tries again by itself (the node said how soon); say so meanwhile.
      if (events.readyState === EventSource.CLOSED) connection("lost", "lost: reload the page");
      else connection("connecting", "reconnecting…");
    });
  }

  function start() {
    $("app").hidden = false;
    connection("connecting", "connecting…");
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      page.key = {
        bucket: $("key-bucket").value,
        key: $("key-key").value,
        n: $("key-n").value || "3",
      };
      askPreflist();
    });
    $("login-form").addEventListener("submit", logIn);
    listen();
    setInterval(sample, 1000);
    showBuckets();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

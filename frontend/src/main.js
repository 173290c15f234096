// The overflight web app: map (MapLibre), timeline (SVG), claims board and work forms over the /api routes.
// Every piece of user text goes into the page with textContent, never as markup.
import * as maplibregl from "maplibre-gl";

maplibregl.setWorkerUrl("/static/maplibre-gl-worker.mjs");

const $ = (sel) => document.querySelector(sel);
const LAYERS = ["zones", "tracks", "crossings", "observations", "discs", "prisms", "attribution", "live"];
const LAYER_NAMES = {
  zones: "zones (states, ranges, regions; disputed hatched)", tracks: "tracks (dashed: unobserved stretch)",
  crossings: "border crossings", observations: "sightings and wreckage finds", discs: "position-error discs",
  prisms: "prism ellipses and avoiding paths (click an ellipse)", attribution: "attribution: distance bands and clusters of finds",
  live: "live monitor alerts (now: not filtered by the window)",
};
const COLOURS = ["#7a2e8e", "#0e7490", "#b45309", "#1d4ed8", "#be123c", "#4d7c0f"];

// ---------------------------------------------------------------- tiny DOM helper (text only)
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.method && opts.method !== "GET") headers["X-Overflight-Request"] = "1";
  const r = await fetch(path, { ...opts, headers, credentials: "same-origin" });
  let body = null;
  try { body = await r.json(); } catch { body = { detail: r.statusText }; }
  if (!r.ok && !opts.allowError) throw Object.assign(new Error(body.detail || r.statusText), { status: r.status, body });
  return { status: r.status, body };
}

// ---------------------------------------------------------------- state (mirrored in the URL hash)
const S = {
  t0: null, t1: null, extent: null, sel: null, layers: new Set(LAYERS), view: null,
  claims: [], summary: null, visible: { tracks: [], observations: [], prisms: [], crossings: [], zones: [], paths: [] },
  live: { alerts: [], status: null },
  selectedFeatures: [], openClaim: null,
};
window.__ovf = S;
S.tlX = (t) => tlX(t, document.querySelector("#tl").clientWidth);  // for tests: where a time is on the timeline

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  if (p.get("t")) {
    const [a, b] = p.get("t").split("/");
    const ta = Date.parse(a), tb = Date.parse(b);
    if (!isNaN(ta) && !isNaN(tb) && tb >= ta) { S.t0 = ta; S.t1 = tb; }
  }
  if (p.get("sel")) S.sel = p.get("sel");
  if (p.get("case")) S.hashCase = p.get("case");
  if (p.get("layers") !== null) S.layers = new Set(p.get("layers").split(",").filter((x) => LAYERS.includes(x)));
  if (p.get("map")) {
    const [z, lat, lon] = p.get("map").split("/").map(Number);
    if ([z, lat, lon].every(Number.isFinite)) S.view = { zoom: z, center: [lon, lat] };
  }
}

let hashTimer = null;
function writeHash() {
  // A link to another case than the open one stays as it is until that case is opened (or the user moves on).
  if (S.summary && S.hashCase && S.hashCase !== S.summary.path) return;
  clearTimeout(hashTimer);
  hashTimer = setTimeout(() => {
    const p = new URLSearchParams();
    if (S.summary) p.set("case", S.summary.path);  // the view is of this case: a copied link says which
    if (S.t0 !== null) p.set("t", `${iso(S.t0)}/${iso(S.t1)}`);
    if (S.sel) p.set("sel", S.sel);
    p.set("layers", [...S.layers].join(","));
    if (map) {
      const c = map.getCenter();
      p.set("map", `${map.getZoom().toFixed(2)}/${c.lat.toFixed(4)}/${c.lng.toFixed(4)}`);
    }
    history.replaceState(null, "", `${location.pathname}${location.search}#${p.toString().replaceAll("%2F", "/").replaceAll("%2C", ",").replaceAll("%3A", ":")}`);
  }, 80);
}

const iso = (t) => new Date(t).toISOString().replace(".000Z", "Z");
const fmt = (t) => new Date(t).toISOString().slice(0, 16).replace("T", " ");

// ---------------------------------------------------------------- map
let map = null;
let boardsReady = Promise.resolve();
const empty = () => ({ type: "FeatureCollection", features: [] });
const colourOf = {};
function trackColour(id) {
  if (!(id in colourOf)) colourOf[id] = COLOURS[Object.keys(colourOf).length % COLOURS.length];
  return colourOf[id];
}

function hatchImage() {
  const n = 12, c = document.createElement("canvas");
  c.width = c.height = n;
  const g = c.getContext("2d");
  g.strokeStyle = "rgba(180,35,24,0.85)"; g.lineWidth = 2;
  g.beginPath(); g.moveTo(0, n); g.lineTo(n, 0); g.moveTo(-n / 2, n / 2); g.lineTo(n / 2, -n / 2);
  g.moveTo(n / 2, n + n / 2); g.lineTo(n + n / 2, n / 2); g.stroke();
  return g.getImageData(0, 0, n, n);
}

const sel = (ids) => ["in", ["get", "id"], ["literal", ids]];

function buildMap() {
  const bbox = S.summary.extent.bbox || [20, 35, 75, 65];
  map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#cfe0ea" } }] },
    bounds: S.view ? undefined : [[bbox[0] - 2, bbox[1] - 2], [bbox[2] + 2, bbox[3] + 2]],
    center: S.view ? S.view.center : undefined, zoom: S.view ? S.view.zoom : undefined,
    attributionControl: false, maxZoom: 14, fadeDuration: 0,
  });
  S.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl(), "bottom-right");
  map.on("load", () => {
    map.addImage("hatch", hatchImage());
    for (const s of ["base", "zones", "tracks", "observations", "prisms", "paths", "attribution", "live", "live-zones"]) map.addSource(s, { type: "geojson", data: empty() });
    const L = (spec) => map.addLayer(spec);
    // The embedded states (Natural Earth) under a case that has no state zones of its own: a base map.
    L({ id: "base-fill", type: "fill", source: "base", paint: { "fill-color": "#f3f0e6" } });
    L({ id: "base-line", type: "line", source: "base", paint: { "line-color": "#a8a8a8", "line-width": 0.6 } });
    L({ id: "zones-fill", type: "fill", source: "zones", filter: ["==", ["get", "layer"], "zone"], paint: {
      "fill-color": ["match", ["get", "kind"], "state", "#f3f0e6", "range", "#f7c7a3", "region", "#b9d7a8", "site", "#e0a0a0", "#d8d8f0"],
      "fill-opacity": ["match", ["get", "kind"], "state", 1, 0.35] } });
    L({ id: "zones-line", type: "line", source: "zones", filter: ["==", ["get", "layer"], "zone"], paint: {
      "line-color": ["match", ["get", "kind"], "state", "#8c8c8c", "#9a4a10"], "line-width": ["match", ["get", "kind"], "state", 0.8, 1.6] } });
    L({ id: "zones-approx", type: "line", source: "zones", filter: ["all", ["==", ["get", "layer"], "zone"], ["get", "approximate"]],
      paint: { "line-color": "#9a4a10", "line-width": 1.6, "line-dasharray": [3, 2] } });
    L({ id: "disputed", type: "fill", source: "zones", filter: ["==", ["get", "layer"], "disputed"], paint: { "fill-pattern": "hatch" } });
    L({ id: "zones-sel", type: "line", source: "zones", filter: sel([]), paint: { "line-color": "#f0a500", "line-width": 3.5 } });
    L({ id: "bands", type: "line", source: "attribution", filter: ["==", ["get", "layer"], "band"], paint: { "line-color": "#555", "line-width": 1.2, "line-dasharray": [1, 2] } });
    L({ id: "clusters", type: "fill", source: "attribution", filter: ["==", ["get", "layer"], "cluster"], paint: { "fill-color": "#b42318", "fill-opacity": 0.12 } });
    L({ id: "clusters-line", type: "line", source: "attribution", filter: ["==", ["get", "layer"], "cluster"], paint: { "line-color": "#b42318", "line-width": 1 } });
    L({ id: "prisms", type: "fill", source: "prisms", paint: { "fill-color": "#8e44ad", "fill-opacity": 0.08 } });
    L({ id: "prisms-line", type: "line", source: "prisms", paint: { "line-color": "#8e44ad", "line-width": 1, "line-dasharray": [2, 2] } });
    L({ id: "prisms-sel", type: "line", source: "prisms", filter: sel([]), paint: { "line-color": "#f0a500", "line-width": 3 } });
    L({ id: "avoid", type: "line", source: "paths", paint: {
      "line-color": ["match", ["get", "verdict"], "necessary", "#b42318", "#0b5b23"], "line-width": 2.5,
      "line-dasharray": ["case", ["==", ["get", "kind"], "direct"], ["literal", [1, 1]], ["literal", [4, 2]]] } });
    L({ id: "discs", type: "fill", source: "observations", filter: ["==", ["get", "layer"], "disc"], paint: {
      "fill-color": ["match", ["get", "kind"], "wreckage", "#b42318", "#1d6fb8"], "fill-opacity": 0.12 } });
    L({ id: "discs-line", type: "line", source: "observations", filter: ["==", ["get", "layer"], "disc"], paint: {
      "line-color": ["match", ["get", "kind"], "wreckage", "#b42318", "#1d6fb8"], "line-width": 0.7 } });
    L({ id: "tracks", type: "line", source: "tracks", filter: ["==", ["get", "layer"], "track"], paint: { "line-color": ["get", "colour"], "line-width": 2.2 } });
    L({ id: "gaps", type: "line", source: "tracks", filter: ["==", ["get", "layer"], "gap"], paint: { "line-color": ["get", "colour"], "line-width": 1.8, "line-dasharray": [2, 2] } });
    L({ id: "tracks-sel", type: "line", source: "tracks", filter: ["all", ["!=", ["get", "layer"], "crossing"], sel([])], paint: { "line-color": "#f0a500", "line-width": 5, "line-opacity": 0.7 } });
    L({ id: "crossings", type: "circle", source: "tracks", filter: ["==", ["get", "layer"], "crossing"], paint: {
      "circle-radius": 3.5, "circle-color": ["case", ["get", "observed"], "#111", "#fff"], "circle-stroke-color": "#111", "circle-stroke-width": 1 } });
    L({ id: "observations", type: "circle", source: "observations", filter: ["==", ["get", "layer"], "observation"], paint: {
      "circle-radius": 4.5, "circle-color": ["match", ["get", "kind"], "wreckage", "#b42318", "sighting", "#1d6fb8", "#555"],
      "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    L({ id: "observations-sel", type: "circle", source: "observations", filter: ["all", ["==", ["get", "layer"], "observation"], sel([])],
      paint: { "circle-radius": 8, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#f0a500", "circle-stroke-width": 3 } });
    L({ id: "live-zones", type: "line", source: "live-zones", paint: { "line-color": "#e5484d", "line-width": 1.5, "line-dasharray": [3, 1] } });
    L({ id: "live", type: "circle", source: "live", paint: {
      "circle-radius": 6, "circle-color": ["match", ["get", "event"], "enter", "#e5484d", "exit", "#1d6fb8", "#777"],
      "circle-stroke-color": "#111", "circle-stroke-width": 1.5 } });
    applyLayers();
    refreshZones();
    refreshWindow();
    refreshAttribution();
    boardsReady.then(() => {
      S.mapReady = true;
      applySelection();
      writeHash();  // the address names the view (and its case) from the start
    });
  });
  map.on("moveend", () => { refreshZones(); refreshTracks(); writeHash(); });
  map.on("click", onMapClick);
}

const LAYER_IDS = {
  zones: ["zones-fill", "zones-line", "zones-approx", "disputed", "zones-sel"], tracks: ["tracks", "gaps", "tracks-sel"],
  crossings: ["crossings"], observations: ["observations", "observations-sel"], discs: ["discs", "discs-line"],
  prisms: ["prisms", "prisms-line", "prisms-sel", "avoid"], attribution: ["bands", "clusters", "clusters-line"], live: ["live", "live-zones"],
};
function applyLayers() {
  for (const [k, ids] of Object.entries(LAYER_IDS)) for (const id of ids) {
    if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", S.layers.has(k) ? "visible" : "none");
  }
}

async function refreshAttribution() {
  const { body } = await api(`/api/attribution?${windowQuery()}`);
  map.getSource("attribution").setData(body);
}

let baseZoom = null;
async function refreshBase() {
  if (S.summary.zones.some((z) => z.kind === "state")) return;  // the case's own states are the base map
  const z = Math.floor(map.getZoom());
  if (z === baseZoom) return;
  baseZoom = z;
  const { body } = await api(`/api/basemap?zoom=${z}`);
  if (z === baseZoom) map.getSource("base").setData(body);
}

let zoneZoom = null;
async function refreshZones() {
  refreshBase();
  // Zones with a validity period appear only for windows in which they are in force.
  const key = `${Math.floor(map.getZoom())}|${windowQuery()}`;
  if (key === zoneZoom) return;
  zoneZoom = key;
  const { body } = await api(`/api/zones?zoom=${Math.floor(map.getZoom())}&${windowQuery()}`);
  if (key !== zoneZoom) return;
  map.getSource("zones").setData(body);
  S.visible.zones = body.features.filter((f) => f.properties.layer === "zone").map((f) => f.properties.id).sort();
  S.zonesLoaded = (S.zonesLoaded || 0) + 1;
}

const windowQuery = () => (S.t0 === null ? "" : `start=${encodeURIComponent(iso(S.t0))}&end=${encodeURIComponent(iso(S.t1))}`);
let trackSeq = 0;
async function refreshTracks() {
  if (!map || !map.getSource("tracks") || S.freezeTracks) return;  // freezeTracks: the benchmark's peer
  const seq = ++trackSeq;
  const b = map.getBounds();
  const box = [b.getWest(), Math.max(-90, b.getSouth()), b.getEast(), Math.min(90, b.getNorth())];
  const zoom = map.getZoom().toFixed(2), win = windowQuery();
  // The last answer covers its view padded by half a view on each side (the server's bbox rule), at its zoom
  // and window: a pan that stays inside it needs no new answer (and MapLibre re-tiles nothing).
  const c = S.tracksCover;
  if (c && c.zoom === zoom && c.win === win && box[0] >= c.box[0] && box[1] >= c.box[1] && box[2] <= c.box[2] && box[3] <= c.box[3]) {
    S.tracksLoaded = (S.tracksLoaded || 0) + 1;
    return;
  }
  const bbox = box.map((x) => x.toFixed(4)).join(",");
  const { body } = await api(`/api/tracks?${win}&zoom=${zoom}&bbox=${bbox}`);
  if (seq !== trackSeq) return;
  const [w, so, e, n] = bbox.split(",").map(Number), px = (e - w) * 0.5, py = (n - so) * 0.5;
  S.tracksCover = { zoom, win, box: [w - px, so - py, e + px, n + py] };
  S.tracksFetched = (S.tracksFetched || 0) + 1;
  for (const f of body.features) f.properties.colour = trackColour(f.properties.layer === "crossing" ? f.properties.track : f.properties.id);
  map.getSource("tracks").setData(body);
  S.visible.tracks = [...new Set(body.features.filter((f) => f.properties.layer === "track").map((f) => f.properties.id))].sort();
  S.visible.crossings = body.features.filter((f) => f.properties.layer === "crossing").map((f) => f.properties.id);
  S.trackStats = { inWindow: body.fixes_in_window, sent: body.fixes_sent, total: body.fixes_total };
  S.tracksLoaded = (S.tracksLoaded || 0) + 1;
  showCounts();
}

let obsSeq = 0;
async function refreshWindow() {
  refreshTracks();
  refreshZones();
  const seq = ++obsSeq;
  const [o, p] = await Promise.all([api(`/api/observations?${windowQuery()}`), api(`/api/prisms?${windowQuery()}`)]);
  if (seq !== obsSeq) return;
  map.getSource("observations").setData(o.body);
  map.getSource("prisms").setData(p.body);
  refreshAttribution();
  S.visible.observations = o.body.features.filter((f) => f.properties.layer === "observation").map((f) => f.properties.id).sort();
  S.visible.prisms = p.body.features.map((f) => f.properties.id).sort();
  S.windowLoaded = (S.windowLoaded || 0) + 1;
  showCounts();
}

function showCounts() {
  const c = $("#counts");
  c.replaceChildren(
    el("div", {}, `in the window: ${S.visible.tracks.length} tracks, ${S.visible.observations.length} observations, ${S.visible.prisms.length} prism areas, ${S.visible.crossings.length} crossings`),
    S.trackStats ? el("div", { class: "dim" }, `fixes: ${S.trackStats.inWindow} in window and view, ${S.trackStats.sent} drawn (per-pixel decimation), ${S.trackStats.total} stored`) : null,
  );
  c.dataset.tracks = S.visible.tracks.join(",");
  c.dataset.observations = S.visible.observations.join(",");
}

function onMapClick(e) {
  const layers = ["observations", "crossings", "tracks", "gaps", "clusters", "prisms", "disputed", "zones-fill"].filter((l) => map.getLayer(l) && S.layers.has(Object.keys(LAYER_IDS).find((k) => LAYER_IDS[k].includes(l))));
  const feats = map.queryRenderedFeatures(e.point, { layers });
  if (!feats.length) return;
  const f = feats[0];
  const id = f.properties.layer === "crossing" ? f.properties.track : f.properties.id;
  selectFeature(id, f.properties);
  if (f.properties.layer === "prism") showPaths(f.properties.run, f.properties.pair);
}

// ---------------------------------------------------------------- avoiding paths of one prism pair
function pathsBox(parent) {
  document.querySelectorAll("#paths-info").forEach((x) => x.remove());
  if (parent) parent.append(el("div", { id: "paths-info" }));
}

function clearPaths() {
  S.paths = null;
  S.pathsBody = null;
  S.visible.paths = [];
  if (S.mapReady) map.getSource("paths").setData(empty());
}

async function showPaths(run, pair) {
  S.paths = { run, pair };
  const { body } = await api(`/api/prisms/${encodeURIComponent(run)}/paths?pair=${encodeURIComponent(pair)}`);
  if (!S.paths || S.paths.run !== run || S.paths.pair !== pair) return;
  if (S.mapReady) map.getSource("paths").setData({ ...body, features: body.features.filter((f) => f.geometry) });
  S.visible.paths = body.features.map((f) => f.properties.id).sort();
  S.pathsBody = body;
  renderPaths();
  S.pathsLoaded = (S.pathsLoaded || 0) + 1;
}

function renderPaths() {
  const box = $("#paths-info"), body = S.pathsBody;
  if (!box || !S.paths || !body || body.run !== S.paths.run || body.pair !== S.paths.pair) return;
  const { run, pair } = S.paths;
  box.replaceChildren(el("h3", {}, `Avoiding paths: ${run}, sightings ${pair}`),
    body.features.length ? el("ul", { id: "paths-list" }, body.features.map((f) => el("li", { "data-kind": f.properties.kind },
      `${f.properties.zone} (${f.properties.verdict || "period"}): ${f.properties.note}`)))
      : el("p", { class: "dim" }, "no zone the pair could or had to enter"));
}

const PRISM_ID = /^(prism[^:]*):.*:(\d+-\d+)$/;  // a prism ellipse's id: run:group:from-to

async function selectFeature(id, props) {
  S.sel = `f:${id}`;
  writeHash();
  highlight([id]);
  if (!PRISM_ID.test(id)) clearPaths();
  const { body } = await api(`/api/claims?feature=${encodeURIComponent(id)}`);
  const hits = new Set(body.for_feature || []);
  document.querySelectorAll(".claim").forEach((c) => c.classList.toggle("hit", hits.has(c.dataset.id)));
  const tab = $("#tab-selection");
  const rows = Object.entries(props || {}).filter(([k]) => !["colour"].includes(k));
  tab.replaceChildren(
    el("h3", {}, `Selected: ${id}`),
    props && props.illustrative === true ? el("p", { class: "banner ill" }, "ILLUSTRATIVE: invented for demonstration") : null,
    el("table", { class: "vt" }, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "popup-text" }, typeof v === "object" ? JSON.stringify(v) : String(v))))),
    el("h3", {}, `Claims it bears on (${hits.size})`),
    hits.size ? el("ul", { id: "sel-claims" }, S.claims.filter((c) => hits.has(c.id)).map((c) =>
      el("li", {}, el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); openClaim(c.id, true); } }, c.id), ` — ${c.verdict}: `, c.statement)))
      : el("p", { class: "dim", id: "sel-claims" }, "no claim names this feature or rests on it"),
  );
  pathsBox(tab);
  renderPaths();
  showTab("selection");
}

function highlight(ids) {
  S.selectedFeatures = ids;
  if (!S.mapReady) return;
  for (const l of ["zones-sel", "prisms-sel"]) map.setFilter(l, sel(ids));
  map.setFilter("tracks-sel", ["all", ["!=", ["get", "layer"], "crossing"], sel(ids)]);
  map.setFilter("observations-sel", ["all", ["==", ["get", "layer"], "observation"], sel(ids)]);
  drawTimeline();
}

// ---------------------------------------------------------------- timeline
const TL = { d0: 0, d1: 1, items: [], lanes: [], drag: null };
const tlX = (t, w) => 90 + ((t - TL.d0) / (TL.d1 - TL.d0)) * (w - 100);
const tlT = (x, w) => TL.d0 + ((x - 90) / (w - 100)) * (TL.d1 - TL.d0);

function drawTimeline() {
  const svg = $("#tl");
  const w = svg.clientWidth || 800, h = svg.clientHeight || 140;
  const NS = "http://www.w3.org/2000/svg";
  const s = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const parts = [];
  const laneH = Math.max(12, Math.min(22, (h - 24) / Math.max(1, TL.lanes.length)));
  // axis
  const span = TL.d1 - TL.d0;
  const steps = [3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3, 30 * 86400e3, 365 * 86400e3];
  const step = steps.find((x) => span / x < 10) || steps[steps.length - 1];
  const g = s("g", { class: "axis" });
  for (let t = Math.ceil(TL.d0 / step) * step; t <= TL.d1; t += step) {
    const x = tlX(t, w);
    g.append(s("line", { x1: x, x2: x, y1: 0, y2: h - 14 }), s("text", { x: x + 2, y: h - 3 }, step >= 86400e3 ? fmt(t).slice(0, 10) : fmt(t).slice(5)));
  }
  parts.push(g);
  TL.lanes.forEach((lane, i) => {
    const y = 4 + i * laneH;
    parts.push(s("text", { class: "lane-label", x: 4, y: y + laneH * 0.7 }, lane));
    for (const it of TL.items.filter((x) => x.lane === lane)) {
      const a = Date.parse(it.start), b = Date.parse(it.end);
      if (b < TL.d0 || a > TL.d1) continue;
      const x0 = Math.max(88, tlX(a, w)), x1 = Math.min(w, tlX(b, w));
      const on = S.selectedFeatures.includes(it.id);
      const r = s("rect", { class: `item ${lane}${on ? " sel" : ""}`, x: x0, y: y + 2, width: Math.max(2, x1 - x0), height: laneH - 5, "data-id": it.id });
      r.append(s("title", {}, `${it.label}: ${fmt(a)} – ${fmt(b)} UTC`));
      parts.push(r);
    }
  });
  if (S.t0 !== null) {
    const x0 = tlX(S.t0, w), x1 = tlX(S.t1, w);
    parts.push(s("rect", { class: "win", x: x0, y: 0, width: Math.max(1, x1 - x0), height: h - 14, "data-role": "win" }));
    parts.push(s("rect", { class: "handle", x: x0 - 3, y: 0, width: 6, height: h - 14, "data-role": "h0" }));
    parts.push(s("rect", { class: "handle", x: x1 - 3, y: 0, width: 6, height: h - 14, "data-role": "h1" }));
  }
  svg.replaceChildren(...parts);
  $("#tl-label").textContent = S.t0 === null ? "window: everything" : `window: ${fmt(S.t0)} – ${fmt(S.t1)} UTC`;
}

let winTimer = null;
function setWindow(t0, t1, { immediate = false } = {}) {
  S.t0 = Math.min(t0, t1); S.t1 = Math.max(t0, t1);
  drawTimeline();
  writeHash();
  clearTimeout(winTimer);
  winTimer = setTimeout(() => { if (S.mapReady) refreshWindow(); }, immediate ? 0 : 120);
}

function initTimeline() {
  const svg = $("#tl");
  svg.addEventListener("pointerdown", (e) => {
    const w = svg.clientWidth, t = tlT(e.offsetX, w);
    const role = e.target.getAttribute("data-role");
    TL.drag = { role: role || "new", start: t, t0: S.t0, t1: S.t1 };
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener("pointermove", (e) => {
    if (!TL.drag) return;
    const t = tlT(e.offsetX, svg.clientWidth), d = TL.drag;
    if (d.role === "win") setWindow(d.t0 + (t - d.start), d.t1 + (t - d.start));
    else if (d.role === "h0") setWindow(t, d.t1);
    else if (d.role === "h1") setWindow(d.t0, t);
    else if (Math.abs(t - d.start) > (TL.d1 - TL.d0) / 400) setWindow(d.start, t);
  });
  svg.addEventListener("pointerup", () => { TL.drag = null; });
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const t = tlT(e.offsetX, svg.clientWidth), k = e.deltaY > 0 ? 1.25 : 0.8;
    TL.d0 = t - (t - TL.d0) * k; TL.d1 = t + (TL.d1 - t) * k;
    drawTimeline();
  }, { passive: false });
  $("#tl-all").addEventListener("click", () => { fitTimeline(); setWindow(TL.e0, TL.e1); });
  let playing = null;
  $("#play").addEventListener("click", () => {
    if (playing) { clearInterval(playing); playing = null; $("#play").textContent = "▶"; return; }
    if (S.t0 === null) setWindow(TL.e0, TL.e0 + (TL.e1 - TL.e0) / 10);
    $("#play").textContent = "❚❚";
    playing = setInterval(() => {
      const len = S.t1 - S.t0, stepT = len / 8;
      if (S.t1 + stepT > TL.e1) { clearInterval(playing); playing = null; $("#play").textContent = "▶"; return; }
      setWindow(S.t0 + stepT, S.t1 + stepT, { immediate: true });
    }, 400);
  });
  new ResizeObserver(drawTimeline).observe(svg);
}

function fitTimeline() {
  const pad = (TL.e1 - TL.e0) * 0.03 || 3600e3;
  TL.d0 = TL.e0 - pad; TL.d1 = TL.e1 + pad;
}

async function loadTimeline() {
  const { body } = await api("/api/timeline");
  const order = ["claims", "sighting", "wreckage", "impact", "tracks", "zones"];
  TL.lanes = [...new Set(body.items.map((x) => x.lane))].sort((a, b) => (order.indexOf(a) + 99 * (order.indexOf(a) < 0)) - (order.indexOf(b) + 99 * (order.indexOf(b) < 0)));
  const ts = body.items.flatMap((x) => [Date.parse(x.start), Date.parse(x.end)]).filter(Number.isFinite);
  TL.e0 = ts.length ? Math.min(...ts) : Date.now() - 86400e3;
  TL.e1 = ts.length ? Math.max(...ts) : Date.now();
  // A zone in force from or until an open end: drawn to the edge of everything else.
  TL.items = body.items.map((x) => ({ ...x, start: x.start || iso(TL.e0 - 365 * 86400e3), end: x.end || iso(TL.e1 + 365 * 86400e3) }));
  if (TL.e1 === TL.e0) TL.e1 = TL.e0 + 3600e3;
  if (!TL.fitted) {
    fitTimeline();
    TL.fitted = true;
    const len = S.t0 === null ? 0 : S.t1 - S.t0;
    if (len > 0 && len < (TL.e1 - TL.e0) / 20) { TL.d0 = S.t0 - 2 * len; TL.d1 = S.t1 + 2 * len; }  // a restored narrow window
  }
  drawTimeline();
}

// ---------------------------------------------------------------- claims board
async function loadClaims() {
  const { body } = await api("/api/claims");
  S.claims = body.claims;
  const box = $("#tab-claims");
  box.replaceChildren(el("p", { class: "dim" }, `${S.claims.length} claims; verdicts are derived from the evidence, never typed in. Click a claim for its reasoning and evidence.`),
    ...S.claims.map(claimCard));
  if (S.openClaim) openClaim(S.openClaim, false);
}

function claimCard(c) {
  const card = el("div", { class: "claim", "data-id": c.id, id: `claim-${c.id}` },
    el("header", { onclick: () => openClaim(c.id, true) },
      el("span", { class: `verdict v-${c.verdict}` }, c.verdict),
      el("div", { class: "meta" }, `${c.claimant} · ${c.date_made ? c.date_made.slice(0, 10) : "undated"} · source ${c.source || "?"} (${c.grade}) · ${c.stance} ${c.what}`),
      el("div", { class: "stmt" }, c.statement),
      el("div", { class: "meta" }, c.scope)),
    el("div", { class: "body", hidden: true },
      el("strong", {}, "Reasoning"), el("ol", { class: "trail" }, c.reasoning.map((r) => el("li", {}, r))),
      el("strong", {}, `Evidence (${c.evidence.length})`),
      c.evidence.length ? c.evidence.map((e) => el("button", { class: "ev", "data-ev": e.id, onclick: () => selectEvidence(c.id, e) },
        el("span", { class: `dir-${e.direction}` }, e.direction), ` [${e.grade}] ${e.kind}${e.via ? ` (via ${e.via})` : ""}: `, e.reasoning))
        : el("p", { class: "dim" }, "no evidence item yet"),
      c.url ? el("p", {}, "statement: ", el("span", { class: "dim" }, c.url)) : null));
  return card;
}

function openClaim(id, toggle) {
  S.openClaim = id;
  showTab("claims");
  document.querySelectorAll(".claim").forEach((c) => {
    const on = c.dataset.id === id && (!toggle || !c.classList.contains("open") || true);
    c.classList.toggle("open", on);
    c.querySelector(".body").hidden = !on;
  });
  const card = document.getElementById(`claim-${id}`);
  if (card) card.scrollIntoView({ block: "nearest" });
  if (!S.sel || !S.sel.startsWith("ev:")) { S.sel = `claim:${id}`; writeHash(); }
  const c = S.claims.find((x) => x.id === id);
  if (c) highlight([...c.where_zones, ...c.evidence.flatMap((e) => (e.focus ? e.focus.features : []))]);
}

function selectEvidence(claimId, e) {
  S.openClaim = claimId;
  S.sel = `ev:${e.id}`;
  document.querySelectorAll(".ev").forEach((b) => b.classList.toggle("sel", b.dataset.ev === e.id));
  const f = e.focus;
  if (f) {
    highlight(f.features);
    if (f.start && f.end) {
      const a = Date.parse(f.start), b = Date.parse(f.end), pad = Math.max((b - a) * 0.15, 15 * 60e3);
      TL.d0 = a - 4 * pad; TL.d1 = b + 4 * pad;  // zoom the timeline to the item, with context
      setWindow(a - pad, b + pad, { immediate: true });
    }
    if (S.map && f.bbox) {
      const [w, s, ea, n] = f.bbox, px = Math.max(0.5, (ea - w) * 0.2), py = Math.max(0.5, (n - s) * 0.2);
      map.fitBounds([[w - px, s - py], [ea + px, n + py]], { duration: 0, maxZoom: 8 });
    }
  }
  S.selectedEvidence = e.id;
  writeHash();
  evidencePaths(claimId, e);
}

function evidencePaths(claimId, e) {
  // A prism item: draw the avoiding paths of its sighting pair (the reason it is "necessary").
  const f = e.focus;
  const prism = f && e.run ? f.features.find((x) => x.startsWith(`${e.run}:`) && /:\d+-\d+$/.test(x)) : null;
  if (!prism) { clearPaths(); return; }
  pathsBox(document.querySelector(`#claim-${CSS.escape(claimId)} .body`));
  showPaths(e.run, prism.split(":").pop());
}

function applySelection() {
  if (!S.sel) return;
  const [kind, ...rest] = S.sel.split(":");
  const id = rest.join(":");
  if (kind === "claim") openClaim(id, false);
  else if (kind === "ev") {
    const c = S.claims.find((x) => x.evidence.some((e) => e.id === id));
    if (c) {
      openClaim(c.id, false);
      const e = c.evidence.find((x) => x.id === id);
      S.sel = `ev:${id}`;
      document.querySelectorAll(".ev").forEach((b) => b.classList.toggle("sel", b.dataset.ev === id));
      if (e.focus) highlight(e.focus.features);
      S.selectedEvidence = id;
      evidencePaths(c.id, e);
    }
  } else if (kind === "f") {
    selectFeature(id, null);
    const m = PRISM_ID.exec(id);
    if (m) showPaths(m[1], m[2]);
  }
}

// ---------------------------------------------------------------- layers, runs, work
function loadLayersTab() {
  const box = $("#tab-layers");
  box.replaceChildren(el("h3", {}, "Layers"), ...LAYERS.map((k) => el("label", { class: "legend-row" },
    el("input", { type: "checkbox", "data-layer": k, checked: S.layers.has(k), onchange: (e) => {
      if (e.target.checked) S.layers.add(k); else S.layers.delete(k);
      applyLayers(); writeHash();
    } }), LAYER_NAMES[k])),
  el("h3", {}, "Legend"),
  ...[["#f3f0e6", "state (land-only boundary sets miss the territorial sea)"], ["#f7c7a3", "range / user zone (dashed outline: approximate)"],
    ["#b9d7a8", "region"], ["repeating-linear-gradient(45deg,#b42318 0 2px,#fff 2px 6px)", "disputed: inside two states"],
    ["#1d6fb8", "sighting, with its position-error disc"], ["#b42318", "wreckage find"], ["#8e44ad", "prism ellipse (where it could have been)"], ["#b42318", "dashed: shortest path avoiding a zone (red: longer than the budget, so entering was necessary; green: within it)"], ["#f3c6c2", "cluster of finds; dotted: distance band of a reference"]]
    .map(([c, t]) => el("div", { class: "legend-row" }, el("span", { class: "swatch", style: `background:${c}` }), t)),
  S.summary.illustrative ? el("p", { class: "banner ill" }, "ILLUSTRATIVE: the tracks, sightings and wreckage of this case are invented (see the report); the claims and zones are real.") : null);
}

async function loadRuns() {
  const { body } = await api("/api/runs");
  $("#tab-runs").replaceChildren(el("h3", {}, `Analysis runs (${body.runs.length})`),
    el("table", { class: "vt", id: "runs-table" }, el("tr", {}, ["run", "boundary set", "rows", "finished", "parameters"].map((h) => el("th", {}, h))),
      body.runs.map((r) => el("tr", {}, el("td", {}, r.id), el("td", {}, r.boundary_set || ""), el("td", {}, r.rows), el("td", {}, r.finished || ""),
        el("td", { class: "dim" }, JSON.stringify(r.parameters).slice(0, 160))))));
}

function validationTable(res) {
  return el("div", { id: "validation" },
    el("p", { class: res.ok ? "good" : "bad" }, res.message),
    res.rules.length ? el("table", { class: "vt", id: "rules-table" }, el("tr", {}, el("th", {}, "rule"), el("th", {}, "rows")),
      res.rules.map((r) => el("tr", { class: r.rows ? "bad" : "" }, el("td", {}, r.rule), el("td", {}, r.rows)))) : null,
    res.examples.length ? el("table", { class: "vt", id: "examples-table" }, el("tr", {}, ["rule", "row", "field", "value", "message"].map((h) => el("th", {}, h))),
      res.examples.map((x) => el("tr", {}, [x.rule, x.row, x.field, x.value, x.message].map((v) => el("td", {}, v ?? ""))))) : null);
}

function initWork() {
  const up = $("#upload-form");
  up.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData(up);
    const kind = fd.get("kind");
    fd.delete("kind");
    $("#upload-result").replaceChildren(el("p", { class: "dim" }, "validating…"));
    const { status, body } = await api(`/api/upload/${encodeURIComponent(kind)}`, { method: "POST", body: fd, allowError: true });
    $("#upload-result").replaceChildren(body.rules ? validationTable(body) : el("p", { class: "bad", id: "validation" }, `${status}: ${body.detail}`));
    if (body.ok) await reloadAll();
  });
  const run = $("#run-form");
  const showFields = () => {
    const k = run.elements.kind.value;
    run.querySelectorAll("label[data-for]").forEach((l) => { l.hidden = !l.dataset.for.split(" ").includes(k); });
  };
  run.elements.kind.addEventListener("change", showFields);
  showFields();
  run.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData(run), kind = fd.get("kind"), params = {};
    for (const l of run.querySelectorAll("label[data-for]")) {
      if (l.hidden) continue;
      const inp = l.querySelector("input,select");
      params[inp.name] = inp.value;
    }
    const { status, body } = await api("/api/jobs", { method: "POST", body: JSON.stringify({ kind, params }), headers: { "Content-Type": "application/json" }, allowError: true });
    if (status !== 202) { $("#jobs").prepend(el("p", { class: "bad job" }, `${status}: ${body.detail}`)); return; }
    trackJob(body);
  });
}

async function trackJob(job) {
  const row = el("div", { class: "job", "data-job": job.id });
  $("#jobs").prepend(row);
  for (;;) {
    row.replaceChildren(el("strong", {}, `${job.kind} `), el("span", { class: `state-${job.state}` }, job.state), ` · ${job.stage} · ${job.elapsed_s}s`,
      el("progress", job.state === "done" || job.state === "failed" ? { max: 1, value: 1 } : {}));
    if (job.state === "done" || job.state === "failed") break;
    await new Promise((r) => setTimeout(r, 400));
    job = (await api(`/api/jobs/${job.id}`)).body;
  }
  if (job.state === "failed") { row.append(el("pre", { class: "bad" }, job.error)); return; }
  row.append(el("div", { class: "good" }, `${job.run}: ${job.new_evidence.length} new evidence item(s)`),
    job.new_evidence.length ? el("ul", { class: "new-evidence" }, job.new_evidence.map((x) => el("li", {}, x))) : null,
    Object.keys(job.verdict_changes).length ? el("ul", {}, Object.entries(job.verdict_changes).map(([c, [a, b]]) => el("li", {}, `${c}: ${a} → ${b}`)))
      : el("div", { class: "dim" }, "no verdict changed"));
  await reloadAll();
}

async function reloadAll() {
  await Promise.all([loadSummary(), loadClaims(), loadTimeline(), loadRuns()]);
  S.tracksCover = null;  // new tracks may have come in
  zoneZoom = null;
  if (S.mapReady) { refreshZones(); refreshWindow(); refreshAttribution(); }
}

// ---------------------------------------------------------------- case picker
async function showPicker(closable) {
  const box = $("#picker");
  box.hidden = false;
  $("#picker-close").hidden = !closable;
  $("#picker-msg").textContent = "";
  $("#picker-link").hidden = true;
  const { body } = await api("/api/cases");
  $("#picker-dirs").textContent = `folders: ${body.dirs.join(", ")} · new cases go to ${body.new_in}`;
  $("#picker-list").replaceChildren(body.cases.length
    ? el("table", { class: "vt", id: "cases-table" }, el("tr", {}, ["case", "folder", "found", "modified", "MB", ""].map((h) => el("th", {}, h))),
      body.cases.map((c) => el("tr", { "data-path": c.path, class: c.open ? "open" : "" }, el("td", {}, c.name), el("td", { class: "dim" }, c.folder),
        el("td", {}, c.where), el("td", {}, c.modified), el("td", {}, c.size_mb),
        el("td", {}, c.open ? "open now" : el("button", { class: "open-case", onclick: () => openCase(c.path) }, "Open")))))
    : el("p", { class: "dim" }, "no case file (*.duckdb) in these folders yet: create one below, or run `overflight demo`"));
}

async function openCase(path) {
  const { status, body } = await api("/api/cases/open", { method: "POST", body: JSON.stringify({ path }), headers: { "Content-Type": "application/json" }, allowError: true });
  if (status !== 200) { $("#picker-msg").textContent = `${status}: ${body.detail}`; return; }
  if (S.hashCase === path) location.reload();  // the link's case: its view, as the link has it
  else location.assign(`${location.pathname}${location.search}`);  // another case, from its own first view
}

async function linkNamesAnotherCase(open) {
  // A copied link is a view of one case: when the server has another (or none) open, say so and offer it.
  await showPicker(open !== null);
  const row = [...document.querySelectorAll("#cases-table tr[data-path]")].find((r) => r.dataset.path === S.hashCase);
  if (row) row.classList.add("wanted");
  $("#picker-link").textContent = `This link is a view of the case ${S.hashCase}` + (open ? `; the server has ${open} open.` : ".")
    + (row ? " Open it (highlighted) to see the view." : " The picker does not list that case on this server.");
  $("#picker-link").hidden = false;
}

function initPicker() {
  $("#cases-btn").addEventListener("click", () => showPicker(!S.noCase));
  $("#picker-close").addEventListener("click", () => {
    $("#picker").hidden = true;
    if (S.hashCase && S.summary && S.hashCase !== S.summary.path) { S.hashCase = null; writeHash(); }  // stay here
  });
  $("#new-case-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = new FormData(e.target).get("name");
    const { status, body } = await api("/api/cases/new", { method: "POST", body: JSON.stringify({ name }), headers: { "Content-Type": "application/json" }, allowError: true });
    if (status !== 200) { $("#picker-msg").textContent = `${status}: ${body.detail}`; return; }
    location.assign(`${location.pathname}${location.search}`);
  });
}

// ---------------------------------------------------------------- live monitor (server-sent events)
function liveData() {
  return { type: "FeatureCollection", features: S.live.alerts.filter((f) => f.geometry) };
}

function drawLive() {
  if (map && map.getSource("live")) map.getSource("live").setData(liveData());
  const st = S.live.status;
  $("#tab-live").replaceChildren(el("h3", {}, `Live: ${S.summary.live}`),
    st ? el("p", { id: "live-status", class: st.running ? "good" : "bad" }, `${st.running ? "running" : "not running"} · ${st.alerts} alerts`
      + (st.aircraft !== undefined ? ` · ${st.aircraft} aircraft · ${st.messages_per_s} msg/s` : "")
      + (st.feeds ? ` · ${st.feeds.map((f) => `${f.name} ${f.connected ? "connected" : "DISCONNECTED"}`).join(", ")}` : "")) : null,
    el("ol", { id: "live-list", reversed: true }, S.live.alerts.slice().reverse().slice(0, 200).map((f) => {
      const p = f.properties;
      return el("li", { "data-event": p.event, "data-aircraft": p.aircraft }, `${p.time ? `${p.time.slice(0, 10)} ${p.time.slice(11, 19)}Z` : "-"} ${p.event} ${p.zone} · ${p.aircraft}${p.callsign ? ` (${p.callsign})` : ""}${p.alt_m !== null && p.alt_m !== undefined ? ` · ${Math.round(p.alt_m)} m` : ""}`);
    })));
  $("#tabs button[data-tab=live]").textContent = `Live (${S.live.alerts.length})`;
}

async function startLive() {
  $("#tabs button[data-tab=live]").hidden = false;
  const { body } = await api("/api/live");
  if (map.getSource("live-zones")) map.getSource("live-zones").setData(body.zones);
  else map.once("load", () => { map.getSource("live-zones").setData(body.zones); drawLive(); });
  S.live.alerts = body.features;
  S.live.status = body.status;
  const last = body.features.length ? body.features[body.features.length - 1].properties.seq : 0;
  drawLive();
  const es = new EventSource(`/api/live/stream?since=${last}`);
  es.addEventListener("alert", (ev) => {
    const f = JSON.parse(ev.data);
    if (S.live.alerts.some((x) => x.properties.seq === f.properties.seq)) return;
    S.live.alerts.push(f);
    if (S.live.alerts.length > 2000) S.live.alerts.shift();
    drawLive();
  });
  es.addEventListener("status", (ev) => { S.live.status = JSON.parse(ev.data); drawLive(); });
  S.liveSource = es;
}

function showTab(name) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
}

async function loadSummary(given) {
  const body = given || (await api("/api/case")).body;
  S.summary = body;
  $("#case-path").textContent = body.path;
  document.title = `overflight · ${body.path.split("/").pop()}`;
  $("#banner-ill").hidden = !body.illustrative;
  $("#ill-badge").hidden = !body.illustrative;
  const ro = $("#banner-ro");
  ro.hidden = !body.read_only;
  ro.textContent = body.read_only ? `READ-ONLY: ${body.read_only_reason}` : "";
  document.querySelectorAll("#tab-work form button").forEach((b) => { b.disabled = body.read_only; });
}

async function main() {
  readHash();
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  initPicker();
  const first = await api("/api/case", { allowError: true });
  if (first.status === 409 && first.body.no_case) {  // `serve` without a case: the picker first
    S.noCase = true;
    if (S.hashCase) await linkNamesAnotherCase(null);
    else await showPicker(false);
    S.ready = true;
    return;
  }
  initTimeline();
  initWork();
  await loadSummary(first.body);
  // The map starts at once (its layers' requests go out while the claims board and timeline load); it
  // applies the URL's selection when both are there.
  boardsReady = Promise.all([loadTimeline(), loadClaims(), loadRuns()]);
  buildMap();
  await boardsReady;
  loadLayersTab();
  if (S.summary.live) startLive();
  if (S.hashCase && S.hashCase !== S.summary.path) linkNamesAnotherCase(S.summary.path);
  S.ready = true;
}

main().catch((e) => { $("#status").textContent = `error: ${e.message}`; console.error(e); });

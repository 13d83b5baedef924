// The coverage ledger's choropleth: our own grid tiles (no remote source unless a base map is configured), each
// grid filled by its coverage class (visited / registered) from the ledger's per-grid JSON through a data-driven
// `match` on the grid code; a click tells the grid's figures. Grids outside the campaign stay unfilled.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("ledger-config").textContent);
  const t = config.strings;
  const box = document.getElementById("ledger-map");
  if (!box || typeof maplibregl === "undefined") return;

  const tileUrl = (level) => window.location.origin + config.tiles.replace("{level}", level);
  const colours = Object.fromEntries(config.classes.map((entry) => [entry.key, entry.colour]));

  const style = { version: 8, sources: {}, layers: [
    { id: "background", type: "background", paint: { "background-color": "#eef1f4" } }] };
  if (config.basemap) {
    style.sources.basemap = { type: "raster", tiles: config.basemap.tiles, tileSize: 256,
      maxzoom: config.basemap.maxzoom, attribution: config.basemap.attribution };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  style.sources.grid = { type: "vector", tiles: [tileUrl("grid")], minzoom: 10, maxzoom: 16 };
  style.sources.community = { type: "vector", tiles: [tileUrl("community")], minzoom: 8, maxzoom: 16 };
  style.layers.push(
    { id: "coverage", type: "fill", source: "grid", "source-layer": "grid",
      paint: { "fill-color": "rgba(0,0,0,0)", "fill-opacity": 0.75 } },
    { id: "grid-line", type: "line", source: "grid", "source-layer": "grid",
      paint: { "line-color": "#4a5568", "line-width": 0.6 } },
    { id: "community-line", type: "line", source: "community", "source-layer": "community",
      paint: { "line-color": "#c05621", "line-width": 2 } },
  );

  const map = new maplibregl.Map({
    container: box, style,
    bounds: config.bounds || undefined, fitBoundsOptions: { padding: 20 },
    center: config.bounds ? undefined : [116.992, 36.651], zoom: config.bounds ? undefined : 11,
    attributionControl: config.basemap ? { compact: true } : false, maxZoom: 19,
    transformRequest: (url) => (url.startsWith(window.location.origin) ? { url, credentials: "same-origin" } : { url }),
  });
  window.wanggeLedgerMap = map; // for the browser test and for the curious
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");

  let grids = {};

  function fillExpression() {
    const byClass = {};
    for (const [code, figures] of Object.entries(grids)) {
      (byClass[figures.class] = byClass[figures.class] || []).push(code);
    }
    const expression = ["match", ["get", "code"]];
    for (const [key, codes] of Object.entries(byClass)) {
      if (codes.length && colours[key]) expression.push(codes, colours[key]);
    }
    expression.push("rgba(0,0,0,0)");
    // A match needs at least one branch: with nothing to colour, every grid stays unfilled.
    return expression.length > 3 ? expression : "rgba(0,0,0,0)";
  }

  async function load() {
    const response = await fetch(config.gridsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    grids = (await response.json()).grids;
    window.wanggeLedgerGrids = grids;
    map.setPaintProperty("coverage", "fill-color", fillExpression());
    box.dataset.loaded = "1";
  }

  map.on("load", () => { load(); });

  map.on("click", "coverage", (event) => {
    const feature = event.features[0];
    const code = feature.properties.code;
    const figures = grids[code];
    if (!figures) return;
    const body = document.createElement("div");
    const title = document.createElement("strong");
    title.textContent = `${feature.properties.name || ""} ${code}`;
    body.append(title);
    const lines = [
      [t.registered, figures.registered], [t.visited, figures.visited], [t.pending, figures.pending],
      [t.coverage, figures.percent === null ? "—" : `${figures.percent}%`],
    ];
    for (const [label, value] of lines) {
      const line = document.createElement("div");
      line.textContent = `${label}: ${value}`;
      body.append(line);
    }
    new maplibregl.Popup({ closeButton: true }).setLngLat(event.lngLat).setDOMContent(body).addTo(map);
  });
  map.on("mouseenter", "coverage", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "coverage", () => { map.getCanvas().style.cursor = ""; });
})();

// Open events on the grid map: a circle per event, its colour the state, its size the urgency (emergencies ringed
// in red); grid and community outlines from our own tiles; a click opens a popup linking the case. No remote
// source unless a base map is configured.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("event-map-config").textContent);
  const colours = config.stateColours;
  const events = config.events;

  function tileUrl(level) {
    return window.location.origin + config.tiles.replace("{level}", level);
  }

  const style = { version: 8, sources: {}, layers: [
    { id: "background", type: "background", paint: { "background-color": "#eef1f4" } }] };
  if (config.basemap) {
    style.sources.basemap = { type: "raster", tiles: config.basemap.tiles, tileSize: 256,
      maxzoom: config.basemap.maxzoom, attribution: config.basemap.attribution };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  for (const level of ["grid", "community", "subdistrict"]) {
    style.sources[level] = { type: "vector", tiles: [tileUrl(level)],
      minzoom: { grid: 10, community: 8, subdistrict: 0 }[level], maxzoom: 16 };
    style.layers.push({ id: `${level}-line`, type: "line", source: level, "source-layer": level,
      paint: { "line-color": { grid: "#9f7aea", community: "#c05621", subdistrict: "#2f855a" }[level],
        "line-width": { grid: 0.8, community: 1.5, subdistrict: 2.5 }[level] } });
  }
  style.sources.events = { type: "geojson", data: events };
  const stateColour = ["match", ["get", "state"]];
  for (const [state, colour] of Object.entries(colours)) stateColour.push(state, colour);
  stateColour.push("#718096");
  style.layers.push({
    id: "events", type: "circle", source: "events",
    paint: {
      "circle-color": stateColour,
      "circle-radius": ["match", ["get", "urgency"], "emergency", 9, "urgent", 7, 5],
      "circle-stroke-color": ["case", ["get", "emergency"], "#c53030", "#ffffff"],
      "circle-stroke-width": ["case", ["get", "emergency"], 3, 1],
    },
  });

  let bounds = config.bounds;
  if (events.features.length) {
    const xs = events.features.map((f) => f.geometry.coordinates[0]);
    const ys = events.features.map((f) => f.geometry.coordinates[1]);
    bounds = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    if (bounds[2] - bounds[0] < 0.005) { bounds[0] -= 0.005; bounds[2] += 0.005; }
    if (bounds[3] - bounds[1] < 0.005) { bounds[1] -= 0.005; bounds[3] += 0.005; }
  }
  const map = new maplibregl.Map({
    container: "event-map", style,
    bounds: bounds || undefined,
    center: bounds ? undefined : [116.992, 36.651], zoom: bounds ? undefined : 11,
    fitBoundsOptions: { padding: 40 },
    attributionControl: config.basemap ? { compact: true } : false, maxZoom: 20,
    transformRequest: (url) => (url.startsWith(window.location.origin)
      ? { url, credentials: "same-origin" } : { url }),
  });
  window.wanggeEventMap = map; // for the browser test
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");

  map.on("mouseenter", "events", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "events", () => { map.getCanvas().style.cursor = ""; });
  map.on("click", "events", (event) => {
    const feature = event.features[0];
    const p = feature.properties;
    const box = document.createElement("div");
    box.className = "event-popup";
    const link = document.createElement("a");
    link.href = config.detailUrl.replace("{id}", p.id);
    link.textContent = p.case;
    const what = document.createElement("div");
    what.textContent = `${p.category} · ${p.stateLabel} · ${p.urgencyLabel}`;
    box.append(link, what);
    new maplibregl.Popup({ closeButton: true }).setLngLat(feature.geometry.coordinates).setDOMContent(box)
      .addTo(map);
  });
})();

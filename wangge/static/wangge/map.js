// The grid map: our own vector tiles per level (no remote source unless a base map is configured), a level
// switcher, click → details with the chain district → grid, search by code or name, and HTML name labels
// (MapLibre's symbol layers would need a glyph server, which an offline install does not have).
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("map-config").textContent);
  const t = config.strings;
  const LEVELS = config.levels; // district → grid, coarse to fine
  const COLOURS = { district: "#0b4f8a", subdistrict: "#2f855a", community: "#c05621", grid: "#6b46c1" };
  // Below these zooms a level's tiles are not asked for: at zoom 10 the demo district's 3,170 grids already weigh
  // 0.4 MB, and coarser views show nothing but noise at grid level.
  const MIN_ZOOM = { district: 0, subdistrict: 0, community: 8, grid: 10 };
  // Names are drawn from these zooms on, when an area is wide enough on screen for its label.
  const LABEL_ZOOM = { district: 0, subdistrict: 11, community: 13, grid: 15 };
  const MAX_LABELS = 250;
  const TILE_MAXZOOM = 16; // deeper zooms reuse (overzoom) the zoom-16 tiles

  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1];
  let activeLevel = "grid";
  let selected = null; // {level, id}

  // Keeps fitted areas clear of the tools panel: beside the map on a wide screen, below it on a phone.
  function panelPadding() {
    const narrow = window.matchMedia("(max-width: 640px)").matches;
    return narrow ? { top: 24, left: 24, right: 24, bottom: Math.round(window.innerHeight * 0.35) }
      : { top: 24, left: 24, bottom: 24, right: 380 };
  }

  function tileUrl(level) {
    return window.location.origin + config.tiles.replace("{level}", level);
  }

  function buildStyle() {
    const style = {
      version: 8,
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": "#eef1f4" } }],
    };
    const base = config.basemap;
    if (base) {
      style.sources.basemap = { type: "raster", tiles: base.tiles, tileSize: 256, maxzoom: base.maxzoom,
        attribution: base.attribution };
      style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
      if (base.labels) {
        style.sources.basemapLabels = { type: "raster", tiles: base.labels, tileSize: 256, maxzoom: base.maxzoom };
        style.layers.push({ id: "basemap-labels", type: "raster", source: "basemapLabels" });
      }
    }
    // Fine levels first, so coarser outlines draw on top of finer fills.
    for (const level of [...LEVELS].reverse()) {
      style.sources[level] = { type: "vector", tiles: [tileUrl(level)], minzoom: MIN_ZOOM[level],
        maxzoom: TILE_MAXZOOM, promoteId: "id" };
      const fillColour = level === "grid"
        ? ["match", ["get", "kind"], "dedicated", "#d53f8c", COLOURS.grid] : COLOURS[level];
      style.layers.push({
        id: `${level}-fill`, type: "fill", source: level, "source-layer": level, minzoom: MIN_ZOOM[level],
        paint: { "fill-color": fillColour,
          "fill-opacity": ["case", ["boolean", ["feature-state", "hover"], false], 0.35, 0.12] },
      });
    }
    for (const level of [...LEVELS].reverse()) {
      style.layers.push({
        id: `${level}-line`, type: "line", source: level, "source-layer": level, minzoom: MIN_ZOOM[level],
        paint: { "line-color": COLOURS[level], "line-width": 1 },
      });
    }
    for (const level of LEVELS) {
      style.layers.push({
        id: `${level}-selected`, type: "line", source: level, "source-layer": level, filter: ["==", ["id"], -1],
        paint: { "line-color": "#e53e3e", "line-width": 3 },
      });
    }
    return style;
  }

  const map = new maplibregl.Map({
    container: "map",
    style: buildStyle(),
    bounds: config.bounds || undefined,
    center: config.bounds ? undefined : [116.992, 36.651],
    zoom: config.bounds ? undefined : 11,
    fitBoundsOptions: { padding: panelPadding() },
    attributionControl: config.basemap ? { compact: true } : false,
    maxZoom: 20,
    transformRequest: (url) => (url.startsWith(window.location.origin) ? { url, credentials: "same-origin" } : { url }),
  });
  window.wanggeMap = map; // for the browser test and for the curious
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");

  // --- levels -------------------------------------------------------------------------------------------------
  function applyLevel(level) {
    activeLevel = level;
    const depth = LEVELS.indexOf(level);
    LEVELS.forEach((other, i) => {
      // The chosen level is filled and clickable; coarser ones stay as context outlines; finer ones are hidden.
      map.setLayoutProperty(`${other}-fill`, "visibility", i === depth ? "visible" : "none");
      map.setLayoutProperty(`${other}-line`, "visibility", i <= depth ? "visible" : "none");
      map.setPaintProperty(`${other}-line`, "line-width", i === depth ? 1 : 1 + (depth - i) * 0.8);
    });
    const radio = document.querySelector(`#levels input[value="${level}"]`);
    if (radio) radio.checked = true;
    scheduleLabels();
  }
  document.getElementById("levels").addEventListener("change", (event) => {
    if (event.target.name === "level") applyLevel(event.target.value);
  });

  // --- details panel --------------------------------------------------------------------------------------------
  const details = document.getElementById("details");

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json",
      ...(csrf ? { "X-CSRFToken": csrf } : {}) } });
    if (!response.ok) throw new Error(`${response.status}`);
    return response.json();
  }

  function select(level, id) {
    for (const other of LEVELS) {
      map.setFilter(`${other}-selected`, other === level ? ["==", ["id"], id] : ["==", ["id"], -1]);
    }
    selected = { level, id };
  }

  function fill(element, rows) {
    element.replaceChildren(...rows);
  }

  function chainItem(link, current) {
    const item = document.createElement("li");
    item.className = `chain-${link.level}` + (current ? " current" : "");
    item.dataset.code = link.code;
    const level = document.createElement("span");
    level.className = "chain-level";
    level.textContent = t[link.level] || link.level;
    const code = document.createElement("code");
    code.textContent = link.code;
    const name = document.createElement("span");
    name.className = "chain-name";
    name.textContent = link.name;
    item.append(level, code, name);
    return item;
  }

  function fact(label, value) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }

  async function showDetails(id) {
    details.hidden = false;
    document.getElementById("details-title").textContent = t.loading;
    fill(document.getElementById("details-chain"), []);
    fill(document.getElementById("details-facts"), []);
    openPanel();
    const area = await getJSON(config.areaUrl.replace("{id}", id));
    select(area.level, area.id);
    document.getElementById("details-title").textContent = `${area.name}`;
    // The label point lies inside the area, so the lookup there returns exactly this area's ancestors.
    let chain = [];
    if (area.label_point) {
      const [lon, lat] = area.label_point.coordinates;
      const found = await getJSON(`${config.lookupUrl}?lon=${lon}&lat=${lat}`);
      const depth = LEVELS.indexOf(area.level);
      chain = found.chain.filter((link) => LEVELS.indexOf(link.level) <= depth);
    }
    if (!chain.some((link) => link.code === area.code)) chain.push(area);
    fill(document.getElementById("details-chain"), chain.map((link) => chainItem(link, link.code === area.code)));
    const facts = [...fact(t.code, area.code), ...fact(t.kind, t[area.kind] || area.kind)];
    if (area.dedicated_to) facts.push(...fact(t.dedicatedTo, area.dedicated_to));
    if (area.area_m2) facts.push(...fact(t.size, `${(area.area_m2 / 1e6).toFixed(3)} ${t.km2}`));
    fill(document.getElementById("details-facts"), facts);
    return area;
  }

  map.on("click", (event) => {
    const hits = map.queryRenderedFeatures(event.point, { layers: [`${activeLevel}-fill`] });
    if (!hits.length) {
      details.hidden = false;
      document.getElementById("details-title").textContent = t.outside;
      fill(document.getElementById("details-chain"), []);
      fill(document.getElementById("details-facts"), []);
      select(null, -1);
      return;
    }
    showDetails(hits[0].properties.id).catch(() => {
      document.getElementById("details-title").textContent = t.outside;
    });
  });

  // --- hover tooltip (desktop) --------------------------------------------------------------------------------
  const tooltip = document.getElementById("tooltip");
  let hovered = null;
  map.on("mousemove", (event) => {
    const hits = map.queryRenderedFeatures(event.point, { layers: [`${activeLevel}-fill`] });
    const hit = hits[0];
    if (hovered && (!hit || hit.id !== hovered.id || hit.source !== hovered.source)) {
      map.setFeatureState(hovered, { hover: false });
      hovered = null;
    }
    if (!hit) {
      tooltip.hidden = true;
      map.getCanvas().style.cursor = "";
      return;
    }
    hovered = { source: hit.source, sourceLayer: hit.sourceLayer, id: hit.id };
    map.setFeatureState(hovered, { hover: true });
    map.getCanvas().style.cursor = "pointer";
    tooltip.textContent = `${hit.properties.name} · ${hit.properties.code}`;
    tooltip.style.left = `${event.point.x + 12}px`;
    tooltip.style.top = `${event.point.y + 12}px`;
    tooltip.hidden = false;
  });
  map.getCanvas().addEventListener("mouseleave", () => { tooltip.hidden = true; });

  // --- HTML labels at label points -----------------------------------------------------------------------------
  const labels = new Map(); // id → marker
  let labelTimer = null;

  function scheduleLabels() {
    clearTimeout(labelTimer);
    labelTimer = setTimeout(updateLabels, 120);
  }

  function updateLabels() {
    const wanted = new Map();
    if (map.getZoom() >= LABEL_ZOOM[activeLevel] && map.getLayer(`${activeLevel}-fill`)) {
      const bounds = map.getBounds();
      for (const feature of map.queryRenderedFeatures({ layers: [`${activeLevel}-fill`] })) {
        const p = feature.properties;
        if (wanted.has(p.id) || p.label_lon === undefined) continue;
        if (!bounds.contains([p.label_lon, p.label_lat])) continue;
        wanted.set(p.id, p);
        if (wanted.size >= MAX_LABELS) break;
      }
    }
    for (const [id, marker] of labels) {
      if (!wanted.has(id)) { marker.remove(); labels.delete(id); }
    }
    for (const [id, p] of wanted) {
      if (labels.has(id)) continue;
      const element = document.createElement("div");
      element.className = `area-label label-${p.level}`;
      element.textContent = p.name;
      labels.set(id, new maplibregl.Marker({ element }).setLngLat([p.label_lon, p.label_lat]).addTo(map));
    }
  }
  map.on("moveend", scheduleLabels);
  map.on("sourcedata", (event) => { if (event.sourceId === activeLevel && event.isSourceLoaded) scheduleLabels(); });

  // --- search -------------------------------------------------------------------------------------------------
  const results = document.getElementById("search-results");

  function bboxOf(geometry) {
    let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
    const walk = (coords) => {
      if (typeof coords[0] === "number") {
        minX = Math.min(minX, coords[0]); maxX = Math.max(maxX, coords[0]);
        minY = Math.min(minY, coords[1]); maxY = Math.max(maxY, coords[1]);
      } else coords.forEach(walk);
    };
    walk(geometry.coordinates);
    return [[minX, minY], [maxX, maxY]];
  }

  async function goTo(id) {
    const area = await getJSON(config.areaUrl.replace("{id}", id));
    applyLevel(area.level);
    if (area.geom) map.fitBounds(bboxOf(area.geom), { padding: panelPadding(), maxZoom: 17 });
    await showDetails(area.id);
  }

  document.getElementById("search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = document.getElementById("search-q").value.trim();
    if (!q) return;
    const params = new URLSearchParams({ q });
    if (config.generation) params.set("generation", config.generation);
    let rows;
    try {
      rows = (await getJSON(`${config.areasUrl}?${params}`)).results || [];
    } catch (error) {
      fill(results, [Object.assign(document.createElement("li"), { textContent: t.searchFailed })]);
      return;
    }
    if (!rows.length) {
      fill(results, [Object.assign(document.createElement("li"), { textContent: t.noResults })]);
      return;
    }
    fill(results, rows.slice(0, 20).map((row) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "result";
      button.dataset.id = row.id;
      const code = document.createElement("code");
      code.textContent = row.code;
      const name = document.createElement("span");
      name.textContent = ` ${row.name} · ${t[row.level] || row.level}`;
      button.append(code, name);
      button.addEventListener("click", () => goTo(row.id));
      item.append(button);
      return item;
    }));
  });

  // --- responsive panel ---------------------------------------------------------------------------------------
  const panel = document.getElementById("panel");
  const toggle = document.getElementById("panel-toggle");
  function openPanel() {
    panel.classList.remove("collapsed");
    toggle.setAttribute("aria-expanded", "true");
  }
  toggle.addEventListener("click", () => {
    const collapsed = panel.classList.toggle("collapsed");
    toggle.setAttribute("aria-expanded", String(!collapsed));
  });

  map.on("load", () => applyLevel(activeLevel));
})();

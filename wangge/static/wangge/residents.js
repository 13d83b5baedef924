// The resident distribution map (一张居民分布地图) on top of the grid map (map.js, window.wanggeMap): a choropleth of
// counts per area coloured by a data-driven `match` on the area code, a legend with classes, building dots from our
// own vector tiles at high zoom, and a click on a building → its houses and households (masked, in scope).
// The server decides what a user may count or see (registry/mapstats.py); this file only draws it.
(function () {
  "use strict";

  const map = window.wanggeMap;
  const pageConfig = JSON.parse(document.getElementById("map-config").textContent);
  const config = pageConfig.residents;
  if (!map || !config) return;
  const t = config.strings;
  const LEVELS = pageConfig.levels;
  const CODE_LENGTH = { district: 6, subdistrict: 9, community: 12, grid: 15 };
  // Sequential, light to dark (ColorBrewer OrRd): readable on the plain background and over a base map.
  const PALETTE = ["#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"];
  const ZERO = "#f5f5f5";
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1];

  // Exposed for the browser test and the curious: the metric drawn, its counts per code per level, its classes.
  const state = { metric: "", label: "", counts: {}, byLevel: {}, classes: [] };
  window.wanggeResidents = state;

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json",
      ...(csrf ? { "X-CSRFToken": csrf } : {}) } });
    if (!response.ok) throw new Error(`${response.status}`);
    return response.json();
  }

  function element(tag, properties, children) {
    const node = Object.assign(document.createElement(tag), properties || {});
    if (children) node.append(...children);
    return node;
  }

  function activeLevel() {
    const checked = document.querySelector("#levels input[name=level]:checked");
    return checked ? checked.value : "grid";
  }

  // --- panel: metric selector, legend, building details ----------------------------------------------------------
  const levels = document.getElementById("levels");
  const section = element("section", { id: "residents", className: "residents" });
  const select = element("select", { id: "metric-select" });
  const legend = element("div", { id: "choropleth-legend", className: "choropleth-legend", hidden: true });
  legend.setAttribute("aria-live", "polite");
  if (config.metrics.length) {
    select.append(element("option", { value: "", textContent: t.none }),
      ...config.metrics.map((m) => element("option", { value: m.value, textContent: m.label })));
    section.append(element("label", { htmlFor: "metric-select", textContent: t.statistics }), select, legend);
    levels.after(section);
  }
  const building = element("section", { id: "building-details", className: "building-details", hidden: true });
  building.setAttribute("aria-live", "polite");
  // Above the area details a click on a dot also opens (the dot lies in a grid): the building is what was aimed at.
  (document.getElementById("details") || levels).before(building);

  // --- choropleth -----------------------------------------------------------------------------------------------
  // Grid counts summed up the code tree: a code prefix is a subtree, so a community's count is its grids' sum.
  function rollUp(counts) {
    const byLevel = {};
    for (const level of LEVELS) byLevel[level] = {};
    for (const [code, n] of Object.entries(counts)) {
      for (const level of LEVELS) {
        const prefix = code.slice(0, CODE_LENGTH[level]);
        byLevel[level][prefix] = (byLevel[level][prefix] || 0) + n;
      }
    }
    return byLevel;
  }

  // Up to five classes at quantiles of the non-zero counts, so a few crowded grids do not wash out the rest.
  function classesOf(values) {
    const sorted = values.filter((v) => v > 0).sort((a, b) => a - b);
    if (!sorted.length) return [];
    const uppers = [];
    for (let k = 1; k <= PALETTE.length; k++) {
      const upper = sorted[Math.min(sorted.length - 1, Math.ceil((k / PALETTE.length) * sorted.length) - 1)];
      if (!uppers.length || upper > uppers[uppers.length - 1]) uppers.push(upper);
    }
    const offset = PALETTE.length - uppers.length; // fewer classes take the darker colours
    return uppers.map((upper, i) => ({ from: i === 0 ? sorted[0] : uppers[i - 1] + 1, to: upper,
      colour: PALETTE[offset + i] }));
  }

  function colourExpression(counts, classes) {
    const groups = classes.map(() => []);
    for (const [code, n] of Object.entries(counts)) {
      const i = classes.findIndex((c) => n <= c.to);
      if (n > 0 && i >= 0) groups[i].push(code);
    }
    const expression = ["match", ["get", "code"]];
    groups.forEach((codes, i) => { if (codes.length) expression.push(codes, classes[i].colour); });
    // A match needs at least one branch; with nothing to colour every area is a zero.
    return expression.length > 2 ? [...expression, ZERO] : ZERO;
  }

  const originalPaint = {};
  function remember() {
    for (const level of LEVELS) {
      const layer = `${level}-fill`;
      if (map.getLayer(layer) && !originalPaint[layer]) {
        originalPaint[layer] = { colour: map.getPaintProperty(layer, "fill-color"),
          opacity: map.getPaintProperty(layer, "fill-opacity") };
      }
    }
  }

  function paint() {
    remember();
    const current = activeLevel();
    for (const level of LEVELS) {
      const layer = `${level}-fill`;
      if (!map.getLayer(layer)) continue;
      if (!state.metric) {
        map.setPaintProperty(layer, "fill-color", originalPaint[layer].colour);
        map.setPaintProperty(layer, "fill-opacity", originalPaint[layer].opacity);
        continue;
      }
      const counts = state.byLevel[level] || {};
      const classes = classesOf(Object.values(counts));
      if (level === current) state.classes = classes;
      map.setPaintProperty(layer, "fill-color", colourExpression(counts, classes));
      // Lighter at building zooms, so the dots and the outlines stay readable over a fully coloured screen.
      const hover = ["boolean", ["feature-state", "hover"], false];
      map.setPaintProperty(layer, "fill-opacity", ["interpolate", ["linear"], ["zoom"],
        config.buildingMinzoom, ["case", hover, 0.9, 0.7], config.buildingMinzoom + 3, ["case", hover, 0.55, 0.35]]);
    }
    drawLegend();
  }

  function drawLegend() {
    legend.dataset.metric = state.metric;
    if (!state.metric) {
      legend.hidden = true;
      legend.replaceChildren();
      return;
    }
    const rows = state.classes.map((c) => legendRow(c.colour, c.from === c.to ? `${c.from}` : `${c.from}–${c.to}`));
    rows.unshift(legendRow(ZERO, `0 (${t.zero})`));
    const total = Object.values(state.byLevel[activeLevel()] || {}).reduce((a, b) => a + b, 0);
    legend.replaceChildren(element("div", { className: "legend-title", textContent: state.label }),
      element("ul", { className: "legend-classes" }, rows),
      element("div", { className: "legend-total", textContent: `${t.total}: ${total}` }));
    legend.hidden = false;
  }

  function legendRow(colour, text) {
    const swatch = element("span", { className: "legend-swatch" });
    swatch.style.background = colour;
    return element("li", { className: "legend-class" }, [swatch, element("span", { textContent: text })]);
  }

  async function showMetric(metric) {
    if (!metric) {
      Object.assign(state, { metric: "", label: "", counts: {}, byLevel: {}, classes: [] });
      paint();
      return;
    }
    legend.hidden = false;
    legend.replaceChildren(element("div", { textContent: t.loading }));
    let body;
    try {
      body = await getJSON(`${config.statsUrl}?${new URLSearchParams({ metric })}`);
    } catch (error) {
      legend.replaceChildren(element("div", { className: "legend-error", textContent: t.failed }));
      return;
    }
    if (select.value !== metric) return; // another metric was chosen meanwhile
    Object.assign(state, { metric, label: body.label, counts: body.counts, byLevel: rollUp(body.counts) });
    paint();
  }

  select.addEventListener("change", () => showMetric(select.value));
  // Classes and legend follow the level shown (map.js switches the layers on the same event).
  levels.addEventListener("change", () => { if (state.metric) paint(); });

  // The tooltip map.js fills gets the count of the area under the pointer.
  const tooltip = document.getElementById("tooltip");
  map.on("mousemove", (event) => {
    if (!state.metric || tooltip.hidden) return;
    const level = activeLevel();
    const hit = map.queryRenderedFeatures(event.point, { layers: [`${level}-fill`] })[0];
    if (!hit) return;
    const n = (state.byLevel[level] || {})[hit.properties.code] || 0;
    tooltip.textContent = `${hit.properties.name} · ${hit.properties.code} · ${state.label}: ${n}`;
  });

  // --- building dots ---------------------------------------------------------------------------------------------
  function addBuildings() {
    map.addSource("buildings", { type: "vector", tiles: [window.location.origin + config.buildingTiles],
      minzoom: config.buildingMinzoom, maxzoom: 16, promoteId: "id" });
    map.addLayer({ id: "buildings-dots", type: "circle", source: "buildings", "source-layer": "buildings",
      minzoom: config.buildingMinzoom,
      paint: { "circle-color": "#1f4e79", "circle-stroke-color": "#fff", "circle-stroke-width": 1,
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 14, 3, 18, 8] } });
  }

  function fact(label, value) {
    return [element("dt", { textContent: label }), element("dd", { textContent: value })];
  }

  function houseItem(house, personsVisible) {
    const where = [house.unit, house.room].filter(Boolean).join("-");
    const item = element("li", { className: "house" });
    item.dataset.id = house.id;
    item.append(element("div", { className: "house-title",
      textContent: `${where} · ${t.households} ${house.households} · ${t.members} ${house.members}` }));
    if (personsVisible) {
      item.append(element("ul", { className: "households" }, house.household_list.map((h) => element("li",
        { className: "household" }, [
          element("div", { className: "household-number", textContent: `${h.number} · ${t.members} ${h.members}` }),
          element("ul", { className: "people" }, h.people.map((p) => element("li", { className: "person" }, [
            element("span", { className: "person-name", textContent: p.name }),
            element("code", { className: "person-id", textContent: p.id_number_masked }),
            element("span", { className: "person-relation", textContent: p.relation_to_head }),
          ]))),
        ]))));
    }
    return item;
  }

  async function showBuilding(id) {
    building.hidden = false;
    building.replaceChildren(element("h2", { textContent: t.loading }));
    let b;
    try {
      b = await getJSON(config.buildingUrl.replace("{id}", id));
    } catch (error) {
      building.replaceChildren(element("h2", { textContent: t.buildingFailed }));
      return;
    }
    building.dataset.id = b.id;
    const facts = [...fact(t.grid, b.grid_code), ...fact(t.houses, `${b.houses_count}`),
      ...fact(t.households, `${b.households}`), ...fact(t.members, `${b.members}`)];
    if (b.address) facts.splice(2, 0, ...fact(t.address, b.address));
    const parts = [element("h2", { textContent: `${t.building} ${b.number} ${b.name || ""}`.trim() }),
      element("dl", { className: "facts" }, facts)];
    if (!b.persons_visible) parts.push(element("p", { className: "counts-only", textContent: t.countsOnly }));
    parts.push(b.houses.length ? element("ul", { className: "houses" }, b.houses.map((h) => houseItem(h,
      b.persons_visible))) : element("p", { textContent: t.noHouses }));
    building.replaceChildren(...parts);
    building.scrollIntoView({ block: "nearest" });
  }

  map.on("click", "buildings-dots", (event) => {
    const hit = event.features && event.features[0];
    if (hit) showBuilding(hit.properties.id);
  });
  map.on("mouseenter", "buildings-dots", () => { map.getCanvas().style.cursor = "pointer"; });

  function start() {
    remember();
    addBuildings();
  }
  if (map.loaded()) start(); else map.once("load", start);
})();

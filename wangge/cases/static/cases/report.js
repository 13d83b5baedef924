// Report an event from a phone: the position comes from the phone's GPS (navigator.geolocation); without it — no
// permission, no fix, an indoor desk — a tap on the grid map sets it. The form refuses to go without a position.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("report-config").textContent);
  const t = config.strings;
  const form = document.getElementById("report-form");
  const input = document.getElementById("report-location");
  const status = document.getElementById("gps-status");
  const mapBox = document.getElementById("pick-map");
  let map = null;
  let marker = null;
  let picked = false; // a tap on the map wins over a later GPS fix

  function say(text, ok) {
    status.textContent = text;
    status.classList.toggle("ok", !!ok);
  }

  function setPoint(lon, lat) {
    input.value = JSON.stringify({ type: "Point", coordinates: [lon, lat] });
    if (map) {
      if (!marker) marker = new maplibregl.Marker({ color: "#c53030" });
      marker.setLngLat([lon, lat]).addTo(map);
    }
  }

  function fmt(value) {
    return Number(value).toFixed(6);
  }

  function tileUrl(level) {
    return window.location.origin + config.tiles.replace("{level}", level);
  }

  function openMap() {
    mapBox.hidden = false;
    if (map) {
      map.resize();
      return;
    }
    if (typeof maplibregl === "undefined") return;
    const style = { version: 8, sources: {}, layers: [
      { id: "background", type: "background", paint: { "background-color": "#eef1f4" } }] };
    if (config.basemap) {
      style.sources.basemap = { type: "raster", tiles: config.basemap.tiles, tileSize: 256,
        maxzoom: config.basemap.maxzoom, attribution: config.basemap.attribution };
      style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
    }
    for (const level of ["grid", "community"]) {
      style.sources[level] = { type: "vector", tiles: [tileUrl(level)], minzoom: level === "grid" ? 10 : 8,
        maxzoom: 16 };
      style.layers.push({ id: `${level}-line`, type: "line", source: level, "source-layer": level,
        paint: { "line-color": level === "grid" ? "#6b46c1" : "#c05621", "line-width": level === "grid" ? 1 : 2 } });
    }
    const current = input.value ? JSON.parse(input.value).coordinates : null;
    map = new maplibregl.Map({
      container: mapBox, style,
      bounds: current ? undefined : (config.bounds || undefined),
      center: current || (config.bounds ? undefined : [116.992, 36.651]),
      zoom: current ? 16 : (config.bounds ? undefined : 12),
      attributionControl: false, maxZoom: 20,
      transformRequest: (url) => (url.startsWith(window.location.origin)
        ? { url, credentials: "same-origin" } : { url }),
    });
    window.wanggeReportMap = map;
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
    map.on("click", (event) => {
      picked = true;
      setPoint(event.lngLat.lng, event.lngLat.lat);
      say(`${t.picked}: ${fmt(event.lngLat.lng)}, ${fmt(event.lngLat.lat)}`, true);
    });
    if (current) setPoint(current[0], current[1]);
  }

  function showMap() {
    openMap();
    mapBox.scrollIntoView({ block: "center" });
  }

  document.getElementById("pick-on-map").addEventListener("click", showMap);

  if (input.value) {
    const [lon, lat] = JSON.parse(input.value).coordinates;
    say(`${t.located}: ${fmt(lon)}, ${fmt(lat)}`, true);
  } else if (navigator.geolocation) {
    say(t.locating, false);
    navigator.geolocation.getCurrentPosition((position) => {
      if (picked) return;
      const { longitude, latitude, accuracy } = position.coords;
      setPoint(longitude, latitude);
      let text = `${t.located}: ${fmt(longitude)}, ${fmt(latitude)}`;
      if (accuracy) text += ` (${t.accuracy.replace("%(metres)s", Math.round(accuracy))})`;
      say(text, true);
    }, () => {
      if (picked) return;
      say(t.denied, false);
      openMap();
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  } else {
    say(t.unsupported, false);
    openMap();
  }

  form.addEventListener("submit", (event) => {
    if (!input.value) {
      event.preventDefault();
      say(t.missing, false);
      showMap();
      return;
    }
    const button = document.getElementById("report-submit");
    setTimeout(() => { button.disabled = true; }, 0);
  });
})();

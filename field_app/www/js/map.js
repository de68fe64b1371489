// The site map as inline SVG: geofence polygons and one marker per evidence item with a place. By default it is
// drawn from the data alone, with a local equirectangular projection around the drawn area (no tiles, no library:
// the page works offline). With a tile layer configured on the server (config.json), it is drawn in Web Mercator
// over those tiles; on GCJ-02 tiles (Chinese providers') every WGS-84 position is shifted to GCJ-02 first, and
// only for drawing: the places shown in the evidence list stay WGS-84.

import { s, h, formatDistance } from "./dom.js";
import { t, label } from "./i18n.js";
import { wgs84ToGcj02 } from "./gcj02.js";

const WIDTH = 640;
const HEIGHT = 420;
const PAD = 36;
const EARTH_RADIUS_M = 6371008.8;
const TILE = 256;
const MAX_ZOOM = 18;
const MERCATOR_M_PER_PX_Z0 = 156543.03392804097; // metres per pixel at the equator, zoom 0

function polygonsOf(geofence) {
  if (!geofence) return [];
  if (geofence.type === "Polygon") return [geofence.coordinates];
  if (geofence.type === "MultiPolygon") return geofence.coordinates;
  return [];
}

/** A projection from [lon, lat] to SVG x, y fitting every given position, and its scale in metres per unit. */
export function projection(positions) {
  let minLon = Infinity;
  let maxLon = -Infinity;
  let minLat = Infinity;
  let maxLat = -Infinity;
  for (const [lon, lat] of positions) {
    minLon = Math.min(minLon, lon);
    maxLon = Math.max(maxLon, lon);
    minLat = Math.min(minLat, lat);
    maxLat = Math.max(maxLat, lat);
  }
  const lon0 = (minLon + maxLon) / 2;
  const lat0 = (minLat + maxLat) / 2;
  const radians = Math.PI / 180;
  const k = Math.cos(lat0 * radians);
  const toMetres = ([lon, lat]) => [(lon - lon0) * radians * k * EARTH_RADIUS_M, (lat - lat0) * radians * EARTH_RADIUS_M];
  const [x0] = toMetres([minLon, lat0]);
  const [x1] = toMetres([maxLon, lat0]);
  const [, y0] = toMetres([lon0, minLat]);
  const [, y1] = toMetres([lon0, maxLat]);
  const spanX = Math.max(x1 - x0, 100);
  const spanY = Math.max(y1 - y0, 100);
  const scale = Math.min((WIDTH - 2 * PAD) / spanX, (HEIGHT - 2 * PAD) / spanY); // SVG units per metre
  const project = (position) => {
    const [mx, my] = toMetres(position);
    return [WIDTH / 2 + mx * scale, HEIGHT / 2 - my * scale];
  };
  return { project, scale };
}

/** Web Mercator pixel coordinates of [lon, lat] at ``zoom``. */
export function mercatorPixel([lon, lat], zoom) {
  const size = TILE * 2 ** zoom;
  const sin = Math.sin((lat * Math.PI) / 180);
  return [((lon + 180) / 360) * size, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size];
}

/** A projection onto the tiles: the largest zoom at which every position fits, centred; positions shifted to the
 * tiles' coordinates (GCJ-02 or WGS-84) before projecting. */
export function tiledProjection(positions, tiles) {
  const toTiles = tiles.crs === "gcj02" ? wgs84ToGcj02 : (position) => position;
  const shifted = positions.map(toTiles);
  let zoom = MAX_ZOOM;
  let box;
  for (; zoom > 0; zoom -= 1) {
    const pixels = shifted.map((position) => mercatorPixel(position, zoom));
    const xs = pixels.map(([x]) => x);
    const ys = pixels.map(([, y]) => y);
    box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    if (box[2] - box[0] <= WIDTH - 2 * PAD && box[3] - box[1] <= HEIGHT - 2 * PAD) break;
  }
  const left = (box[0] + box[2]) / 2 - WIDTH / 2;
  const top = (box[1] + box[3]) / 2 - HEIGHT / 2;
  const project = (position) => {
    const [x, y] = mercatorPixel(toTiles(position), zoom);
    return [x - left, y - top];
  };
  const midLat = shifted.reduce((sum, [, lat]) => sum + lat, 0) / shifted.length;
  const metresPerPixel = (MERCATOR_M_PER_PX_Z0 * Math.cos((midLat * Math.PI) / 180)) / 2 ** zoom;
  return { project, scale: 1 / metresPerPixel, zoom, left, top };
}

function tileImages(projected, tiles) {
  const { zoom, left, top } = projected;
  const last = 2 ** zoom - 1;
  const images = [];
  for (let ty = Math.max(0, Math.floor(top / TILE)); ty <= Math.min(last, Math.floor((top + HEIGHT) / TILE)); ty += 1) {
    for (let tx = Math.max(0, Math.floor(left / TILE)); tx <= Math.min(last, Math.floor((left + WIDTH) / TILE)); tx += 1) {
      const href = tiles.url.replace("{z}", zoom).replace("{x}", tx).replace("{y}", ty);
      images.push(s("image", { class: "tile", href, x: tx * TILE - left, y: ty * TILE - top, width: TILE, height: TILE }));
    }
  }
  return images;
}

function niceLength(metres) {
  const power = 10 ** Math.floor(Math.log10(metres));
  for (const step of [5, 2, 1]) if (step * power <= metres) return step * power;
  return power;
}

/**
 * The map of a case: sites (with geofences) and items; onSelect(itemId) when a marker is chosen; ``tiles`` the
 * server's tile layer ({url, crs, attribution}) or null. Returns a <figure>, or a note when there is nothing to draw.
 */
export function caseMap(sites, items, onSelect, tiles = null) {
  const rings = sites.flatMap((site) => polygonsOf(site.geofence).map((polygon) => ({ site, polygon })));
  const located = items.filter((item) => item.location && Number.isFinite(item.location.lat) && Number.isFinite(item.location.lon));
  const positions = [
    ...rings.flatMap(({ polygon }) => polygon.flat()),
    ...located.map((item) => [item.location.lon, item.location.lat]),
  ];
  if (positions.length === 0) return h("p", { class: "note" }, t("mapEmpty"));
  const projected = tiles ? tiledProjection(positions, tiles) : projection(positions);
  const { project, scale } = projected;

  const svg = s("svg", {
    class: "map",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "group",
    "aria-labelledby": "map-title map-desc",
  });
  svg.append(s("title", { id: "map-title" }, t("map")), s("desc", { id: "map-desc" }, t("mapDesc")));
  svg.append(s("rect", { class: "map-bg", x: 0, y: 0, width: WIDTH, height: HEIGHT }));
  if (tiles) {
    svg.dataset.tiles = tiles.crs;
    svg.append(s("g", { class: "tiles", "aria-hidden": "true" }, ...tileImages(projected, tiles)));
  }

  for (const { site, polygon } of rings) {
    const d = polygon
      .map((ring) => ring.map((position, i) => `${i ? "L" : "M"}${project(position).map((v) => v.toFixed(1)).join(",")}`).join("") + "Z")
      .join("");
    const fence = s("path", { class: "geofence", d, "fill-rule": "evenodd", "data-site-id": site.id });
    fence.append(s("title", {}, `${site.name}${site.address ? ` · ${site.address}` : ""}`));
    svg.append(fence);
    if (site.centroid) {
      const [cx, cy] = project([site.centroid.lon, site.centroid.lat]);
      svg.append(s("text", { class: "site-label", x: cx.toFixed(1), y: (cy - 14).toFixed(1), "text-anchor": "middle" }, site.name));
    }
  }

  for (const item of located) {
    const [x, y] = project([item.location.lon, item.location.lat]);
    const accuracy = Number(item.location.accuracy_m);
    if (Number.isFinite(accuracy) && accuracy > 0) {
      svg.append(s("circle", { class: "accuracy", cx: x.toFixed(1), cy: y.toFixed(1), r: Math.max(accuracy * scale, 2).toFixed(1) }));
    }
  }
  located.forEach((item, index) => {
    const [x, y] = project([item.location.lon, item.location.lat]);
    const status = item.geofence ? item.geofence.status : "unknown";
    const marker = s("circle", {
      class: `evidence-point ${status === "inside" ? "inside" : "outside"}`,
      cx: x.toFixed(1),
      cy: y.toFixed(1),
      r: 7,
      tabindex: 0,
      role: "button",
      "data-item-id": item.id,
      "aria-label": `${label("kind", item.kind)} ${item.name} · ${label("geofence", status)}`,
    });
    marker.append(s("title", {}, `${index + 1}. ${label("kind", item.kind)} ${item.name} (${item.id})`));
    const choose = () => onSelect && onSelect(item.id);
    marker.addEventListener("click", choose);
    marker.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        choose();
      }
    });
    svg.append(marker);
  });

  // items at the same place (photos taken on one spot) share a marker position: say how many
  const stacks = new Map();
  for (const item of located) {
    const key = project([item.location.lon, item.location.lat]).map((v) => Math.round(v)).join(",");
    stacks.set(key, (stacks.get(key) || 0) + 1);
  }
  for (const [key, count] of stacks) {
    if (count < 2) continue;
    const [x, y] = key.split(",").map(Number);
    svg.append(s("text", { class: "stack-count", x: x + 10, y: y + 4 }, `×${count}`));
  }

  // north arrow and a scale bar
  svg.append(
    s("path", { class: "north", d: `M${WIDTH - 24},14 L${WIDTH - 30},32 L${WIDTH - 24},28 L${WIDTH - 18},32 Z` }),
    s("text", { class: "map-text", x: WIDTH - 24, y: 46, "text-anchor": "middle" }, t("north")),
  );
  const metres = niceLength((WIDTH / 4) / scale);
  const bar = metres * scale;
  svg.append(
    s("path", { class: "scale-bar", d: `M16,${HEIGHT - 16} v-6 M16,${HEIGHT - 16} H${(16 + bar).toFixed(1)} v-6` }),
    s("text", { class: "map-text", x: 16, y: HEIGHT - 26 }, formatDistance(metres)),
  );

  if (tiles && tiles.attribution) {
    svg.append(s("text", { class: "map-text map-attribution", x: WIDTH - 6, y: HEIGHT - 6, "text-anchor": "end" }, tiles.attribution));
  }

  const legend = h(
    "ul",
    { class: "legend" },
    h("li", {}, h("span", { class: "swatch swatch-fence", "aria-hidden": "true" }), t("mapLegendFence")),
    h("li", {}, h("span", { class: "swatch swatch-inside", "aria-hidden": "true" }), t("mapLegendInside")),
    h("li", {}, h("span", { class: "swatch swatch-outside", "aria-hidden": "true" }), t("mapLegendOutside")),
    h("li", {}, t("mapPoints", { n: located.length })),
    ...(tiles ? [h("li", {}, t(tiles.crs === "gcj02" ? "mapTilesGcj02" : "mapTilesWgs84"))] : []),
  );
  return h("figure", { class: "map-figure" }, svg, h("figcaption", {}, legend));
}

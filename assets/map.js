// CityWall's incident map, browser side: styling, tooltips and popups for the dash-leaflet GeoJSON
// layers (referenced from Python as {"variable": "citywallMap.<name>"}), fed by each layer's
// `hideout` (counts per code, colour breaks, labels), plus the map's clientside callbacks.
// dash-leaflet calls every function here with its usual arguments and the layer's context last.
(function () {
  "use strict";
  // Colours: the CSS custom properties of assets/theme.css (generated from components/theme.py),
  // read once from the document's root.
  const colours = {};
  function colour(name) {
    if (!(name in colours)) {
      colours[name] = getComputedStyle(document.documentElement).getPropertyValue("--" + name).trim();
    }
    return colours[name];
  }

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function hide(ctx) { return (ctx && ctx.hideout) || {}; }
  function labels(ctx) { return hide(ctx).labels || {}; }
  function fmt(template, n) { return String(template || "{n}").replace("{n}", n); }

  // Class 0 = no open incident; classes 1..4 follow the breaks the server computed, the top class
  // always being the reddest so that the legend reads the same whatever the number of breaks.
  function areaClass(n, breaks) {
    if (!n) { return 0; }
    const shift = 3 - breaks.length;
    for (let i = 0; i < breaks.length; i++) { if (n <= breaks[i]) { return i + 1 + shift; } }
    return 4;
  }
  function cellClass(n, breaks) {
    if (!n) { return 0; }
    for (let i = 0; i < breaks.length; i++) { if (n <= breaks[i]) { return i + 1; } }
    return breaks.length + 1;
  }
  // A click on an area or a grid cell drills down to the link its feature carries, the way
  // dcc.Link does (history + Dash's location event): straight from Leaflet's click, not through
  // clickData and a clientside callback, which cost two renders of the whole page first.
  // Ctrl/Cmd-click opens the level in a new tab.
  function drill(feature, layer) {
    const href = feature.properties && feature.properties.href;
    if (!href) { return; }
    layer.on("click", function (e) {
      const ev = e && e.originalEvent;
      if (ev && (ev.ctrlKey || ev.metaKey || ev.shiftKey)) { window.open(href, "_blank"); return; }
      window.history.pushState({}, "", href);
      window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
      window.scrollTo(0, 0);
    });
  }
  // components/formatting.py format_duration: its limits and labels come in the hideout (dur_limits).
  function duration(ms, L) {
    const limits = L.dur_limits;
    const min = Math.max(0, Math.floor(ms / 60000));
    if (min < limits[0]) { return fmt(L.dur_min, min); }
    const h = Math.floor(min / 60);
    if (h < limits[1]) { return fmt(L.dur_h, h); }
    return fmt(L.dur_d, Math.floor(h / 24));
  }

  // Permanent area labels never overlap (issue 14, item 14): after the labels are (re)drawn, and on
  // every zoom or resize, they are placed best first (most open incidents, then the larger area);
  // one that would overlap a label already placed is shortened to its counts, and dropped (hidden:
  // its area keeps its hover title and tooltip) when even that overlaps.
  const LABEL_GAP = 2;  // px kept free between two labels
  function boxesMeet(a, b) {
    return a.left < b.right + LABEL_GAP && b.left < a.right + LABEL_GAP &&
      a.top < b.bottom + LABEL_GAP && b.top < a.bottom + LABEL_GAP;
  }
  function declutter(map) {
    const labels = Array.from(map.__cwLabels || []).filter(function (l) { return l.tooltip.isOpen(); });
    labels.sort(function (a, b) { return b.open - a.open || b.size - a.size || (a.code < b.code ? -1 : 1); });
    const placed = [];
    labels.forEach(function (l) {
      const el = l.tooltip.getElement();
      if (!el) { return; }
      el.classList.remove("cw-label--dropped");
      const fits = function () {
        l.tooltip.update();  // re-centred on its area at its new size
        if (el.offsetParent === null) { return null; }  // not displayed (the wall's small map)
        const box = el.getBoundingClientRect();
        return placed.some(function (p) { return boxesMeet(box, p); }) ? false : box;
      };
      el.classList.toggle("cw-label--short", !!l.short);
      let box = fits();
      if (box === false && !l.short) {
        el.classList.add("cw-label--short");
        box = fits();
      }
      if (box === false) { el.classList.add("cw-label--dropped"); return; }
      if (box) { placed.push(box); }
    });
  }
  function scheduleDeclutter(map) {
    if (!map) { return; }
    if (!map.__cwDeclutterOn) {
      map.__cwDeclutterOn = true;
      map.on("zoomend resize", function () { scheduleDeclutter(map); });
      if (document.fonts && document.fonts.ready) { document.fonts.ready.then(function () { scheduleDeclutter(map); }); }
    }
    clearTimeout(map.__cwDeclutterTimer);
    map.__cwDeclutterTimer = setTimeout(function () { declutter(map); }, 40);
  }
  function areaSize(layer) {
    try {
      const b = layer.getBounds();
      return Math.abs((b.getNorth() - b.getSouth()) * (b.getEast() - b.getWest()));
    } catch (e) { return 0; }
  }

  const api = {
    styleArea: function (feature, ctx) {
      const h = hide(ctx);
      const c = (h.counts || {})[feature.properties.code] || [0, 0];
      const k = h.self ? 0 : areaClass(c[0], h.breaks || []);
      return {
        fillColor: colour("area-" + k), fillOpacity: h.self ? 0.5 : 0.62,
        color: colour(h.self ? "stroke-self" : "stroke-area"),
        weight: h.self ? 2 : 1.2, opacity: 0.9,
        className: "cw-area cw-area-" + feature.properties.code,
      };
    },
    hoverArea: function () { return { weight: 3, color: colour("stroke-hover") }; },
    areaEach: function (feature, layer, ctx) {
      const h = hide(ctx);
      const L = h.labels || {};
      const p = feature.properties;
      const c = (h.counts || {})[p.code] || [0, 0];
      // One label, two forms: the full one (name, then "open N · overdue M") and, on a permanent
      // label with class cw-label--short (a small area, or one shortened to make room), "N/M".
      const html = '<div class="cw-tip" data-code="' + esc(p.code) + '">' +
        '<span class="cw-tip__name"><b>' + esc(p.name) + "</b><br></span>" +
        '<span class="cw-tip__word">' + esc(L.open) + " </span>" +
        '<span class="cw-n-open">' + c[0] + "</span>" +
        (c[1] ? '<span class="cw-tip__word"> · ' + esc(L.overdue) + ' </span><span class="cw-tip__slash">/</span>' +
          '<span class="cw-n-overdue">' + c[1] + "</span>" : "") +
        "</div>";
      // The full name and counts also as the shape's native hover title (short labels omit the name).
      layer.on("add", function () {
        const el = layer.getElement && layer.getElement();
        if (el && !el.querySelector("title")) {
          const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
          title.textContent = p.name + " · " + (L.open || "") + " " + c[0] + (c[1] ? " · " + (L.overdue || "") + " " + c[1] : "");
          el.appendChild(title);
        }
      });
      drill(feature, layer);
      if (Array.isArray(p.at) && p.at.length === 2) {  // the area's own point inside it (v_areas center_lat/lon)
        const anchor = window.L.latLng(p.at[0], p.at[1]);  // (L here is the labels)
        layer.getCenter = function () { return anchor; };
      }
      layer.bindTooltip(html, {
        permanent: !!h.permanent, direction: "center", opacity: 1,
        className: h.permanent ? "cw-area-label" + (p.short ? " cw-label--short" : "") : "cw-tooltip",
      });
      if (h.permanent) {
        const label = { tooltip: layer.getTooltip(), code: String(p.code), open: c[0], short: !!p.short, size: 0 };
        layer.on("add", function () {
          label.size = areaSize(layer);
          const map = layer._map;
          (map.__cwLabels = map.__cwLabels || new Set()).add(label);
          scheduleDeclutter(map);
        });
        layer.on("remove", function (e) {
          const map = e.target._map || layer._map;
          if (map && map.__cwLabels) { map.__cwLabels.delete(label); }
        });
      }
    },
    cellFilter: function (feature, ctx) {
      return !!(hide(ctx).counts || {})[feature.properties.code];
    },
    styleCell: function (feature, ctx) {
      const h = hide(ctx);
      const c = (h.counts || {})[feature.properties.code] || [0, 0, 0];
      const hot = c[1] > 0 || c[2] >= 3;
      return {
        fillColor: colour("cell-" + cellClass(c[0], h.breaks || [1, 3, 9])), fillOpacity: h.fill || 0.8,
        color: colour(hot ? "stroke-hot" : "stroke-cell"), weight: hot ? (h.hotWeight || 2) : 0.5, opacity: hot ? 0.9 : 0.6,
        className: "cw-cell cw-cell-id-" + feature.properties.code + (hot ? " cw-cell--hot" : ""),
      };
    },
    cellEach: function (feature, layer, ctx) {
      const h = hide(ctx);
      const L = h.labels || {};
      const c = (h.counts || {})[feature.properties.code] || [0, 0, 0];
      const html = '<div class="cw-tip" data-cell="' + esc(feature.properties.code) + '"><b>' + esc(L.map_cell) +
        " " + esc(feature.properties.code) + "</b><br>" + esc(L.open) + ' <span class="cw-n-open">' + c[0] +
        "</span> · " + esc(L.overdue) + ' <span class="cw-n-overdue">' + c[1] + "</span>" +
        (c[2] >= 3 ? " · " + esc(L.map_urgent) : "") + "</div>";
      drill(feature, layer);
      layer.bindTooltip(html, { sticky: true, className: "cw-tooltip", opacity: 1 });
    },
    pointToLayer: function (feature, latlng) {
      const p = feature.properties;
      return L.circleMarker(latlng, {
        radius: p.p >= 3 ? 8 : 6.5, fillColor: colour("prio-" + p.p) || colour("prio-1"), fillOpacity: 0.95,
        color: colour(p.od ? "stroke-overdue" : "stroke-cell"), weight: p.od ? 2 : 1,
        className: "cw-point cw-point-id-" + String(p.iid).replace(/[^A-Za-z0-9_-]/g, "_"),
      });
    },
    pointEach: function (feature, layer, ctx) {
      const p = feature.properties;
      if (p.cluster) { return; }
      const Lb = labels(ctx);
      layer.bindPopup(function () {
        const age = p.rep ? duration(Date.now() - p.rep, Lb) : "";
        return '<div class="cw-popup" data-incident="' + esc(p.iid) + '">' +
          '<div class="cw-popup__cat cw-prio-text-' + p.p + '">' + esc(p.cat) + "</div>" +
          '<div class="cw-popup__title">' + esc(p.title) + "</div>" +
          "<table>" +
          "<tr><th>" + esc(Lb.list_address) + "</th><td>" + esc(p.addr) + "</td></tr>" +
          "<tr><th>" + esc(Lb.list_status) + "</th><td>" + esc(p.st) + "</td></tr>" +
          "<tr><th>" + esc(Lb.map_age) + "</th><td>" + esc(age) + "</td></tr>" +
          "<tr><th>" + esc(Lb.map_deadline) + "</th><td>" + esc(p.due || Lb.map_no_deadline) +
          (p.od ? ' <b class="cw-popup__overdue">' + esc(Lb.map_overdue_flag) + "</b>" : "") + "</td></tr>" +
          "</table><div class=\"cw-popup__id\">" + esc(p.iid) + "</div></div>";
      }, { className: "cw-popup-wrap", maxWidth: 360 });
    },
    clusterToLayer: function (feature, latlng) {
      const n = feature.properties.point_count;
      const size = n < 10 ? 30 : n < 100 ? 38 : 46;
      const icon = L.divIcon({
        html: "<div><span>" + esc(feature.properties.point_count_abbreviated) + "</span></div>",
        className: "cw-cluster", iconSize: L.point(size, size),
      });
      return L.marker(latlng, { icon: icon });
    },
    highlightToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, {
        radius: 16, fill: false, color: colour("stroke-highlight"), weight: 3, className: "cw-highlight", interactive: false,
      });
    },
    // shared with the other map layers (assets/resources.js): one colour cache, one escape
    colour: colour,
    esc: esc,
  };
  window.citywallMap = api;

  // --- clientside callbacks -------------------------------------------------------------------
  function noUpdate() { return window.dash_clientside.no_update; }
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    citywallMap: {
      // Cells that have open incidents now but whose shape the browser does not hold yet.
      missingCells: function (hideout, data) {
        const counts = (hideout && hideout.counts) || {};
        const have = {};
        ((data && data.features) || []).forEach(function (f) { have[f.properties.code] = true; });
        const missing = Object.keys(counts).filter(function (code) { return !have[code]; });
        return missing.length ? missing : noUpdate();
      },
      // The selected row of the list, drawn as a ring on the map, which flies to it.
      highlight: function (rows, scope) {
        const row = rows && rows[0];
        const empty = { type: "FeatureCollection", features: [] };
        if (!row || !row.incident_id) { return [empty, noUpdate(), ""]; }
        const template = (scope && scope.selected_label) || "{id} {title}";
        const text = template.replace("{id}", row.incident_id).replace("{title}", row.title || "");
        if (row.lat == null || row.lon == null) { return [empty, noUpdate(), text]; }
        const feature = { type: "Feature", geometry: { type: "Point", coordinates: [row.lon, row.lat] },
                          properties: { iid: row.incident_id } };
        return [{ type: "FeatureCollection", features: [feature] },
                { center: [row.lat, row.lon], zoom: 16, transition: "flyTo" }, text];
      },
      // A click on an incident point selects its row in the list (when that row is loaded).
      pointToRow: function (feature) {
        const p = feature && feature.properties;
        if (!p || p.cluster || !p.iid) { return noUpdate(); }
        return { ids: [String(p.iid)] };
      },
      // External filters changed: forget the loaded blocks so the grid asks the server again,
      // and keep the filters in the address bar (a shareable link) without a new history entry.
      refilter: function (categories, statuses, priorities, overdue, search, scope, base) {
        const gridId = scope && scope.grid_id;
        if (gridId && window.dash_ag_grid && window.dash_ag_grid.getApiAsync) {
          window.dash_ag_grid.getApiAsync(gridId).then(function (gridApi) {
            if (gridApi && gridApi.purgeInfiniteCache) { gridApi.purgeInfiniteCache(); }
          }).catch(function () { /* grid not mounted yet: its first request reads the filters anyway */ });
        }
        const params = new URLSearchParams(window.location.search);
        const set = function (name, value) {
          params.delete(name);
          if (Array.isArray(value)) { value.forEach(function (v) { params.append(name, v); }); }
          else if (value !== null && value !== undefined && value !== "" && value !== "any") { params.set(name, value); }
        };
        set("category", categories); set("status", statuses); set("priority", priorities);
        set("overdue", overdue); set("q", search);
        const query = params.toString();
        const url = window.location.pathname + (query ? "?" + query : "");
        if (url !== window.location.pathname + window.location.search) {
          window.history.replaceState(window.history.state, "", url);
        }
        return (base || 0) + 1;
      },
    },
  });
})();

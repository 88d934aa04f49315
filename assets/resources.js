// Field resources on a dash-leaflet map (components/resource_layer.py): a marker per resource, its
// type's glyph on a disc coloured by its status, greyed with a dashed ring when its position is
// older than 2 x its period (decided on the server: the feature's `stale`), clustered, with a popup.
// Referenced from Python as {"variable": "citywallRes.<name>"}; colours from assets/theme.css.
(function () {
  "use strict";
  // assets/map.js's colour cache and escape (looked up when called: asset load order does not matter)
  function colour(name) { return window.citywallMap.colour(name); }
  function esc(text) { return window.citywallMap.esc(text); }
  function safe(text) { return String(text).replace(/[^A-Za-z0-9_-]/g, "_"); }

  window.citywallRes = {
    toLayer: function (feature, latlng) {
      const p = feature.properties;
      const state = p.stale ? "stale" : p.st;
      const icon = L.divIcon({
        html: '<div style="background:' + (colour(p.stale ? "stale" : "res-" + p.st) || colour("accent")) + '">' +
          esc(p.glyph) + "</div>",
        className: "res-marker res-marker--" + safe(state) + (p.stale ? " res-marker--stale" : "") +
          " res-marker-id-" + safe(p.rid),
        iconSize: null,
      });
      return L.marker(latlng, { icon: icon, title: p.name + " · " + p.stl + " · " + p.pos, riseOnHover: true });
    },
    clusterToLayer: function (feature, latlng) {
      const n = feature.properties.point_count;
      const icon = L.divIcon({
        html: "<div><span>" + esc(feature.properties.point_count_abbreviated) + "</span></div>",
        className: "res-cluster", iconSize: null,
      });
      return L.marker(latlng, { icon: icon, title: String(n) });
    },
    each: function (feature, layer, ctx) {
      const p = feature.properties;
      if (p.cluster) { return; }
      const Lb = (ctx && ctx.hideout && ctx.hideout.labels) || {};
      layer.bindPopup(function () {
        return '<div class="cw-popup res-popup" data-resource="' + esc(p.rid) + '">' +
          '<div class="cw-popup__title">' + esc(p.name) + "</div><table>" +
          "<tr><th>" + esc(Lb.res_type) + "</th><td>" + esc(p.tname) + "</td></tr>" +
          "<tr><th>" + esc(Lb.res_status) + "</th><td>" + esc(p.stl) + "</td></tr>" +
          (p.inc ? "<tr><th>" + esc(Lb.res_assigned) + "</th><td>" + esc(p.inc) + "</td></tr>" : "") +
          '</table><div class="res-popup__pos' + (p.stale ? " res-popup__pos--stale" : "") + '">' + esc(p.pos) +
          "</div></div>";
      }, { className: "cw-popup-wrap", maxWidth: 360 });
    },
  };
})();

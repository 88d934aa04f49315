// CityWall's browser-side pieces: the live clock and the connection badge.
// Offline is decided here, from the time the last successful refresh ARRIVED in this browser,
// so it works when the server (or the network) is gone.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  citywall: {
    // Kiosk playlist: after rotate_s go to the next page of the playlist, keeping kiosk mode.
    kiosk: function (cfg) {
      if (!cfg || !cfg.rotate_s || !cfg.playlist || cfg.playlist.length === 0 || window.__citywallRotate) {
        return window.dash_clientside.no_update;
      }
      const here = window.location.pathname + window.location.search;
      const params = new URLSearchParams(window.location.search);
      const index = cfg.playlist.findIndex(function (p) { return p.split("?")[0] === window.location.pathname; });
      const next = cfg.playlist[(index + 1) % cfg.playlist.length];
      const url = new URL(next, window.location.origin);
      ["kiosk", "rotate", "playlist", "lang"].forEach(function (key) {
        if (params.has(key) && !url.searchParams.has(key)) { url.searchParams.set(key, params.get(key)); }
      });
      window.__citywallRotate = setTimeout(function () {
        if (url.pathname + url.search !== here) { window.location.assign(url.toString()); }
        else { window.location.reload(); }
      }, cfg.rotate_s * 1000);
      return "rotating every " + cfg.rotate_s + " s";
    },
    statusBar: function (nClock, status, conn) {
      const cfg = conn || {};
      const labels = cfg.labels || {};
      const refreshMs = (cfg.refresh_s || 5) * 1000;
      const state = (window.__citywall = window.__citywall || { lastOkMs: null, lastAsOf: null, seen: null });
      if (status && status !== state.seen) {
        state.seen = status;
        // A deploy changed the app: reload once so the wall runs the new code and assets.
        if (status.version) {
          if (state.version && state.version !== status.version) { window.location.reload(); }
          state.version = status.version;
        }
        if (status.ok) {
          state.lastOkMs = Date.now();
          state.lastAsOf = status.as_of || state.lastAsOf;
        }
      }
      let clock = "--:--:--";
      try {
        clock = new Intl.DateTimeFormat(cfg.lang === "en" ? "en-GB" : "zh-CN", {
          timeZone: cfg.timezone || "UTC", hour: "2-digit", minute: "2-digit", second: "2-digit",
          hour12: false,
        }).format(new Date());
      } catch (e) { /* unknown zone: keep the placeholder rather than break the page */ }
      const asOf = state.lastAsOf || "--:--:--";
      const silentMs = state.lastOkMs === null ? null : Date.now() - state.lastOkMs;
      if (state.lastOkMs === null) {
        if (status && status.ok === false) {
          return [clock, labels.db_unavailable || "DATABASE UNAVAILABLE", "badge badge--offline", asOf];
        }
        return [clock, labels.connecting || "CONNECTING", "badge badge--connecting", asOf];
      }
      if (silentMs > 3 * refreshMs) {
        const text = (labels.offline || "OFFLINE") + " · " + (labels.last_good_data || "last good data") + " " + asOf;
        document.body.classList.add("is-offline");
        return [clock, text, "badge badge--offline", asOf];
      }
      document.body.classList.remove("is-offline");
      return [clock, labels.live || "LIVE", "badge badge--live", asOf];
    },
  },
});

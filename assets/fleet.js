// The wall fleet (issue 15, item 4): each tab keeps one screen id (sessionStorage) across its reloads
// and a kiosk's rotation, which its page's tick callback sends with every tick (pages/_fleet.py:
// no request of its own); and when the tab closes or leaves CityWall it says goodbye with one
// keepalive request, so /walls shows it gone, not OFFLINE.
(function () {
  const KEY = "citywall-screen";
  const ID = /^[0-9a-f]{32}$/;
  let current = null;  // this page's fleet store, with the tab's screen id

  function keptId() {
    try { return window.sessionStorage.getItem(KEY); } catch (e) { return null; }
  }

  function keep(id) {
    try { window.sessionStorage.setItem(KEY, id); } catch (e) { /* private mode: one id per page load */ }
  }

  function goodbye() {
    if (!current) { return; }
    const config = document.getElementById("_dash-config");
    let prefix = "/";
    try { prefix = JSON.parse(config.textContent).requests_pathname_prefix || "/"; } catch (e) { /* default */ }
    const body = {
      output: "cw-fleet-bye-target.title",
      outputs: {id: "cw-fleet-bye-target", property: "title"},
      inputs: [{id: "cw-fleet-bye", property: "data", value: current}],
      changedPropIds: ["cw-fleet-bye.data"],
      state: [],
    };
    try {
      fetch(prefix + "_dash-update-component", {method: "POST", keepalive: true, credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (e) { /* the screen goes OFFLINE on /walls instead of gone */ }
    current = null;
  }

  window.addEventListener("pagehide", goodbye);
  // Navigated inside the app to a page that does not beat (the incident list, say): a goodbye too.
  window.setInterval(function () {
    if (current && !document.querySelector(".cw-fleet-marker")) { goodbye(); }
  }, 1000);

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    citywallFleet: {
      screen: function (seed) {
        if (!seed || typeof seed.id !== "string") { return null; }
        let id = keptId();
        if (!id || !ID.test(id)) { id = seed.id; keep(id); }
        current = Object.assign({}, seed, {id: id});
        return current;
      },
    },
  });
})();

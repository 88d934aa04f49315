"""The wall readable from five metres (issue 14, items 15 and 18), in Chromium at a pinned 1920x1080
and 3840x2160, in Chinese and English, on the city wall and a district's: every tile's text shown in
full (no element of a tile, nor a box holding it, with scrollWidth > clientWidth, nor past its tile),
names >= 20 px and values >= 36 px at 1080p (scaled by the viewport's height: 40 and 72 at 2160p),
text contrast >= 4.5:1 (WCAG 2.2) against the ground it lies on; every wall indicator is shown on
one of the panel's pages; the "city" badge on a borrowed value never covers the value. The Shanghai
pack with a few hours of simulated history, one indicator in alarm and one in warning."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from data_access.settings import DEFAULT_PACK
from data_access.vitals import indicator_catalogue
from feeder.loop import backfill
from feeder.pack import load_city_pack
from tests.conftest import AppProcess

pytestmark = pytest.mark.browser  # every test here drives Chromium
SIZES = [(1920, 1080), (3840, 2160)]
PUDONG = "310115"

# Every text of every shown wall tile: what is wrong with it (clipped, too small, too faint).
MEASURE_JS = r"""
// Page arguments[0] of every turning panel (set and measured in one script: no tick can turn it in
// between), then every text of every shown wall tile: clipped (its own or a container's scrollWidth >
// clientWidth, or its box past the tile's), its font size and its contrast against what lies beneath it.
window.dash_clientside.citywall.tilePages(document, arguments[0]);
const scale = window.innerHeight / 1080;
function rgba(text) {
  const m = String(text).match(/rgba?\(([^)]+)\)/);
  if (!m) { return [0, 0, 0, 0]; }
  const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function ground(el) {
  const layers = [];
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c[3] > 0) { layers.push(c); if (c[3] >= 1) { break; } }
  }
  let out = [0, 0, 0];
  for (let i = layers.length - 1; i >= 0; i--) {
    const c = layers[i];
    out = [0, 1, 2].map(function (k) { return c[k] * c[3] + out[k] * (1 - c[3]); });
  }
  return out;
}
function lum(c) {
  const v = c.slice(0, 3).map(function (x) {
    x /= 255;
    return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function ratio(fg, bg) {
  const f = fg[3] < 1 ? [0, 1, 2].map(function (k) { return fg[k] * fg[3] + bg[k] * (1 - fg[3]); }) : fg;
  const a = lum(f) + 0.05, b = lum(bg) + 0.05;
  return Math.max(a, b) / Math.min(a, b);
}
const MIN = {"tile__name": 20, "tile__number": 36};
const out = [];
document.querySelectorAll(".wall__panels .tile[data-indicator]").forEach(function (tile) {
  if (tile.hidden || tile.offsetParent === null) { return; }
  const box = tile.getBoundingClientRect();
  const texts = ".tile__name, .tile__unit, .tile__symbol, .tile__number, .tile__change, .tile__origin, .tile__age";
  tile.querySelectorAll(texts).forEach(function (el) {
      if (el.hidden || !el.textContent.trim()) { return; }
      const part = Array.from(el.classList).find(function (c) { return c.indexOf("tile__") === 0; });
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      const problems = [];
      let n = el;
      while (n && n !== tile.parentElement) {
        if (n.scrollWidth > n.clientWidth + 0 && getComputedStyle(n).overflowX !== "visible") {
          problems.push("clipped by " + (n.className || n.tagName) + " " + n.scrollWidth + ">" + n.clientWidth);
        }
        if (n === tile) { break; }
        n = n.parentElement;
      }
      if (r.right > box.right + 0.5 || r.left < box.left - 0.5 || r.bottom > box.bottom + 0.5
          || r.top < box.top - 0.5) {
        problems.push("outside its tile");
      }
      const size = parseFloat(style.fontSize);
      if (MIN[part] && size < MIN[part] * scale - 0.01) {
        problems.push("font " + size.toFixed(1) + "px < " + (MIN[part] * scale));
      }
      const contrast = ratio(rgba(style.color), ground(el));
      if (contrast < 4.5) { problems.push("contrast " + contrast.toFixed(2)); }
      out.push({id: tile.getAttribute("data-indicator"), part: part, text: el.textContent, size: size,
                contrast: Math.round(contrast * 100) / 100, problems: problems});
    });
});
return out;
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('readable') / 'wall.db'}")
    init_db(eng)
    load_city_pack(eng, pack_dir=DEFAULT_PACK)
    now = utc_now()
    backfill(eng, days=0.1, now=now, recent_hours=0.5)
    with eng.begin() as conn:  # an alarm and a warning: their coloured text on their tinted ground
        conn.execute(schema.readings.insert(), [
            {"indicator_id": "aqi", "area_code": "310000", "ts": now, "value": 320.0},
            {"indicator_id": "aqi", "area_code": PUDONG, "ts": now, "value": 330.0},
            {"indicator_id": "pm25", "area_code": "310000", "ts": now, "value": 60.0},
            {"indicator_id": "pm25", "area_code": PUDONG, "ts": now, "value": 62.0},
        ])
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def app_process(engine: Engine) -> Iterator[AppProcess]:
    proc = AppProcess({"CITYWALL_DATABASE_URL": str(engine.url), "CITYWALL_FEEDER": "0", "CITYWALL_REFRESH_S": "2"})
    proc.start()
    yield proc
    proc.stop()


def _open(browser, open_at_size, url: str, size: tuple[int, int]) -> int:
    """Load the wall at ``size`` once its tiles have values; the number of pages of its most paged panel."""
    open_at_size(url, size)
    browser.wait_for_element('[data-indicator="power_load_mw"] .tile__age', timeout=20)
    browser.wait_for_text_to_equal('[data-indicator="aqi"] .tile__number', "320" if "/wall/" not in url else "330",
                                   timeout=20)
    return browser.driver.execute_script(
        "return Math.max.apply(null, Array.from(document.querySelectorAll('.panel'))"
        ".map(function (p) { return +p.getAttribute('data-pages') || 1; }))")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path", ["/", f"/wall/{PUDONG}"])
def test_every_tile_text_is_whole_large_and_clear(browser, open_at_size, app_process: AppProcess, engine: Engine,
                                                   size: tuple[int, int], lang: str, path: str) -> None:
    pages = _open(browser, open_at_size, f"{app_process.url}{path}?lang={lang}", size)
    assert pages > 1  # the Shanghai catalogue has more indicators than fit: some panels turn
    seen: set[str] = set()
    problems: list[str] = []
    parts: set[str] = set()
    for page in range(pages):
        per_panel = browser.driver.execute_script(
            "window.dash_clientside.citywall.tilePages(document, arguments[0]);"
            "return Array.from(document.querySelectorAll('.wall__panels .panel')).map(function (p) {"
            " return p.querySelectorAll('.tile[data-indicator]:not([hidden])').length; })", page)
        assert max(per_panel) <= 6, per_panel
        for item in browser.driver.execute_script(MEASURE_JS, page):
            seen.add(item["id"])
            parts.add(item["part"])
            problems += [f"page {page + 1} {item['id']} {item['part']} {item['text']!r}: {p}" for p in item["problems"]]
    assert problems == []
    catalogue = indicator_catalogue(engine=engine)
    assert seen == set(catalogue.loc[catalogue["on_wall"].astype(bool), "indicator_id"])  # each on some page
    assert {"tile__name", "tile__unit", "tile__number", "tile__age"} <= parts
    if path != "/":
        assert "tile__origin" in parts
    assert browser.get_logs() == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_city_badge_leaves_the_value_whole(browser, open_at_size, app_process: AppProcess, lang: str) -> None:
    """Item 18: on a district's wall at 1080p a value borrowed from the city carries its badge beside, never on, it."""
    pages = _open(browser, open_at_size, f"{app_process.url}/wall/{PUDONG}?lang={lang}", (1920, 1080))
    badges = 0
    for page in range(pages):
        found = browser.driver.execute_script("""
            window.dash_clientside.citywall.tilePages(document, arguments[0]);
            return Array.from(document.querySelectorAll('.wall__panels .tile:not([hidden])')).filter(function (t) {
              const o = t.querySelector('.tile__origin'); return o && !o.hidden && o.textContent;
            }).map(function (t) {
              const o = t.querySelector('.tile__origin').getBoundingClientRect();
              const n = t.querySelector('.tile__number');
              const r = n.getBoundingClientRect();
              const apart = o.right <= r.left || o.left >= r.right || o.bottom <= r.top || o.top >= r.bottom;
              return [t.getAttribute('data-indicator'), apart, n.scrollWidth <= n.clientWidth,
                      n.parentElement.scrollWidth <= n.parentElement.clientWidth];
            });""", page)
        badges += len(found)
        assert [f for f in found if not all(f[1:])] == []
    assert badges >= 10  # most of the catalogue is city-wide
    assert browser.get_logs() == []


# --- item 14: map labels never overlap -------------------------------------------------------------------

LABELS_JS = r"""
const all = Array.from(document.querySelectorAll('.leaflet-tooltip.cw-area-label'));
const shown = all.filter(function (e) { return getComputedStyle(e).visibility !== 'hidden' && e.offsetParent; });
const boxes = shown.map(function (e) {
  const tip = e.querySelector('.cw-tip');
  return {code: tip.getAttribute('data-code'), open: +tip.querySelector('.cw-n-open').textContent,
          short: e.classList.contains('cw-label--short'), box: e.getBoundingClientRect().toJSON(),
          text: e.textContent};
});
const overlaps = [];
for (let i = 0; i < boxes.length; i++) {
  for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i].box, b = boxes[j].box;
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
      overlaps.push(boxes[i].code + ' ' + boxes[i].text + ' / ' + boxes[j].code + ' ' + boxes[j].text);
    }
  }
}
const opens = all.map(function (e) { return +e.querySelector('.cw-n-open').textContent; });
return {all: all.length, shown: boxes, overlaps: overlaps, top: Math.max.apply(null, opens)};
"""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path", ["/city", "/district/310101", f"/district/{PUDONG}"])
def test_map_labels_never_overlap(browser, open_at_size, app_process: AppProcess, size: tuple[int, int], lang: str,
                                  path: str) -> None:
    """The city's central districts are small and close together: their labels met ("宝山区" over "嘉定区").
    Now a label that would overlap a better-ranked one (more open incidents) is shortened to its
    counts, or dropped; the best-ranked label is always shown."""
    open_at_size(f"{app_process.url}{path}?lang={lang}", size)
    browser.wait_for_element(".leaflet-tooltip.cw-area-label .cw-n-open", timeout=20)
    time.sleep(0.5)  # the labels are placed just after they are drawn
    found = browser.driver.execute_script(LABELS_JS)
    assert found["overlaps"] == []
    assert len(found["shown"]) >= 0.6 * found["all"]  # shortened before dropped: most areas keep a label
    assert any(label["open"] == found["top"] for label in found["shown"])
    assert browser.get_logs() == []

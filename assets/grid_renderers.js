/* dash-ag-grid cell renderers (looked up by name in window.dashAgGridComponentFunctions).
 * CwAreaLink: the ranking's area name as a link to its level page. The name is a React text child
 * (never parsed as HTML or Markdown) and the href comes from the server (components/links.py);
 * anything but a path of this site ("/x", not "//host" or "/\host") is shown without a link.
 * A plain click navigates like dcc.Link (history + Dash's location event); Ctrl/Cmd/Shift-click
 * or the middle button open it the browser's way. */
(function () {
  "use strict";
  const fns = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  function ownPath(href) {
    return typeof href === "string" && /^\/(?![\/\\])/.test(href) && !/[\u0000-\u001f\\]/.test(href);
  }
  fns.CwAreaLink = function (props) {
    const React = window.React;
    const text = props.value == null ? "" : String(props.value);
    const href = props.data && props.data.href;
    if (!ownPath(href)) {
      return React.createElement("span", { className: "cw-rank__name" }, text);
    }
    return React.createElement("a", {
      href: href,
      className: "cw-rank__name cw-rank__link",
      onClick: function (ev) {
        if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) { return; }
        ev.preventDefault();
        window.history.pushState({}, "", href);
        window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        window.scrollTo(0, 0);
      },
    }, text);
  };
})();

/* The handover page's Print button (issue 15): the browser's own print dialog, nothing else. */
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target && target.closest && target.closest(".log-print")) { window.print(); }
});

// The board's export dialog. Rows arrive and move live through the board's socket (region
// export.row, swapped by htmx like every other region): this file only opens the dialog, loads
// its list, and keeps a refused request's sentence inside the dialog instead of a toast.
(() => {
  const dialog = () => document.getElementById("exports");

  function open() {
    const box = dialog(); if (!box) return;
    if (!box.open) box.showModal();
    htmx.ajax("GET", box.dataset.listUrl, { target: "#exports-body", swap: "innerHTML" });
    box.querySelector("input[name=choice]:checked")?.focus();
  }

  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-open-exports]")) { e.preventDefault(); open(); }
  });
  // "x" opens it from the board, like the other one-key shortcuts (not while typing).
  document.addEventListener("keydown", (e) => {
    if (e.key !== "x" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (e.target.closest && e.target.closest("input, textarea, select, dialog, [contenteditable]")) return;
    if (!dialog() || document.querySelector("dialog[open]")) return;
    e.preventDefault(); open();
  });
  // 422/429 answers carry the list with the reason on top: show them where the person looks.
  document.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.target?.id === "exports-body" && [422, 429].includes(e.detail.xhr.status)) {
      e.detail.shouldSwap = true; e.detail.isError = false;
    }
  });
})();

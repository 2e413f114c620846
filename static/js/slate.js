// Slate storyboard page: keyboard, panel order, tool options, the inpaint painter.
// Everything that changes data goes through htmx forms; this file only arranges the page.
(function () {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  function panels() { return $$("#panels > article.panel"); }

  // Live fragments are idempotent, but a panel may arrive both as our own answer and over the socket.
  function dedupe() {
    const seen = new Set();
    for (const p of panels()) { if (seen.has(p.id)) p.remove(); else seen.add(p.id); }
    renumber();
  }
  function renumber() {
    const list = panels();
    list.forEach((p, i) => {
      const n = $(".num", p); if (n) n.textContent = i + 1;
      p.setAttribute("aria-label", "Panel " + (i + 1));
      const [earlier, later] = [$("[data-move='-1']", p), $("[data-move='1']", p)];
      if (earlier) earlier.disabled = i === 0;
      if (later) later.disabled = i === list.length - 1;
    });
  }
  function applyOrder() {
    const marker = $("#panel-order"); const grid = $("#panels");
    if (!marker || !grid || !marker.dataset.order) return;
    for (const id of marker.dataset.order.split(",")) { const p = document.getElementById("panel-" + id); if (p) grid.appendChild(p); }
    renumber();
  }

  function syncTool(form) {
    const select = $("[data-tool-select]", form); if (!select) return;
    form.dataset.tool = select.value;
  }

  document.addEventListener("change", (e) => {
    const form = e.target.closest("form.generate");
    if (form && e.target.matches("[data-tool-select]")) syncTool(form);
  });

  // Generate: inpaint first opens the painter; everything else posts straight away.
  document.addEventListener("submit", (e) => {
    const form = e.target.closest("form.generate");
    if (form) {  // tools that start from a take start from the one the frame shows
      const shown = $(".frame-img[data-take]", form.closest("article.panel"));
      $("[data-parent]", form).value = shown ? shown.dataset.take : "";
    }
    if (form && form.dataset.tool === "inpaint" && !$("[data-mask]", form).value) {
      e.preventDefault(); e.stopPropagation(); openPainter(form);
    }
  }, true);
  document.addEventListener("htmx:afterRequest", (e) => {
    const form = e.target.closest && e.target.closest("form.generate");
    if (form) $("[data-mask]", form).value = "";
  });

  // Reorder buttons.
  document.addEventListener("click", (e) => {
    const btn = e.target.closest("[data-move]"); if (!btn) return;
    movePanel(btn.closest("article.panel"), parseInt(btn.dataset.move, 10));
  });
  function movePanel(panel, delta) {
    const list = panels(); const to = list.indexOf(panel) + delta;
    if (!panel || to < 0 || to >= list.length) return;
    htmx.ajax("POST", "/panels/" + panel.dataset.panel + "/move/", { target: "#panel-order", swap: "outerHTML", values: { position: to } })
      .then(() => { applyOrder(); panel.focus(); });
  }

  document.addEventListener("htmx:afterSwap", (e) => {
    if (e.target.id === "editor-body" && !$("#editor").open) $("#editor").showModal();
    dedupe(); applyOrder();
  });
  document.addEventListener("htmx:oobAfterSwap", () => { dedupe(); applyOrder(); });
  document.addEventListener("panel-saved", () => $("#editor") && $("#editor").close());
  let dropped = false;
  document.addEventListener("htmx:wsOpen", () => {
    const d = $("#live-status"); if (d) { d.className = "live-dot on"; d.textContent = "live"; }
    // Events sent while the socket was down are gone: catch up from the page itself.
    if (dropped) htmx.ajax("GET", location.pathname, { select: "#panels", target: "#panels", swap: "outerHTML" });
    dropped = false;
  });
  document.addEventListener("htmx:wsClose", () => { dropped = true; const d = $("#live-status"); if (d) { d.className = "live-dot off"; d.textContent = "reconnecting"; } });
  document.addEventListener("htmx:wsAfterMessage", () => { dedupe(); applyOrder(); });

  // Keyboard: the focused panel is the subject of every shortcut.
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey && e.key === "Enter" && e.target.closest("form")) { e.target.closest("form").requestSubmit(); return; }
    if (e.target.closest("input, textarea, select, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
    const list = panels(); const current = document.activeElement.closest && document.activeElement.closest("article.panel");
    const i = list.indexOf(current);
    const go = (j) => { if (list[j]) list[j].focus(); };
    switch (e.key) {
      case "ArrowRight": case "l": go(i < 0 ? 0 : Math.min(i + 1, list.length - 1)); break;
      case "ArrowLeft": case "h": go(i < 0 ? 0 : Math.max(i - 1, 0)); break;
      case "g": if (current) $("[data-generate]", current)?.click(); break;
      case "e": if (current) $("[data-edit]", current)?.click(); break;
      case "c": if (current) { $("details.comments-box", current).open = true; $("[data-comment]", current)?.focus(); } break;
      case "[": if (current) movePanel(current, -1); break;
      case "]": if (current) movePanel(current, 1); break;
      case "n": $(".add-panel textarea")?.focus(); break;
      case "?": $("#keys")?.showModal(); break;
      default: return;
    }
    e.preventDefault();
  });

  // Inpaint painter: white strokes on a black canvas the size of the take become the mask.
  let painterForm = null;
  function openPainter(form) {
    const panel = form.closest("article.panel"); const img = $(".frame-img[data-take]", panel);
    if (!img) return;
    painterForm = form;
    const source = $("#paint-img"); const canvas = $("#paint-canvas");
    source.onload = () => {
      canvas.width = source.naturalWidth; canvas.height = source.naturalHeight;
      const ctx = canvas.getContext("2d"); ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      $("#painter").showModal();
    };
    source.src = img.src;
  }
  function paintAt(e) {
    const canvas = $("#paint-canvas"); const r = canvas.getBoundingClientRect();
    const x = (e.clientX - r.left) * canvas.width / r.width; const y = (e.clientY - r.top) * canvas.height / r.height;
    const size = parseInt($("#paint-brush").value, 10) * canvas.width / 128;
    const ctx = canvas.getContext("2d"); ctx.fillStyle = "#fff"; ctx.beginPath(); ctx.arc(x, y, size / 2, 0, Math.PI * 2); ctx.fill();
  }
  document.addEventListener("DOMContentLoaded", () => {
    const canvas = $("#paint-canvas"); if (!canvas) return;
    let down = false;
    canvas.addEventListener("pointerdown", (e) => { down = true; paintAt(e); });
    canvas.addEventListener("pointermove", (e) => { if (down) paintAt(e); });
    window.addEventListener("pointerup", () => { down = false; });
    $("#paint-clear").addEventListener("click", () => { const ctx = canvas.getContext("2d"); ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); });
    $("#paint-go").addEventListener("click", () => {
      if (!painterForm) return;
      $("[data-mask]", painterForm).value = canvas.toDataURL("image/png");
      $("#painter").close(); htmx.trigger(painterForm, "submit");
    });
    $$("form.generate").forEach(syncTool);
    renumber();
  });
  document.addEventListener("htmx:load", (e) => { $$("form.generate", e.target).forEach(syncTool); });
})();

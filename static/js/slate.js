// Slate storyboard page: keyboard, tool options, the inpaint painter, and keeping in step with
// the live socket. Everything that changes data goes through htmx forms; fragments swap by id.
(function () {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  function panels() { return $$("#panels > article.panel"); }

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

  // Reorder buttons. The answer places the card like the live event does: any old copy goes.
  document.addEventListener("click", (e) => {
    const btn = e.target.closest("[data-move]"); if (!btn) return;
    movePanel(btn.closest("article.panel"), parseInt(btn.dataset.move, 10));
  });
  function movePanel(panel, delta) {
    const list = panels(); const to = list.indexOf(panel) + delta;
    if (!panel || to < 0 || to >= list.length) return;
    const id = panel.id;
    htmx.ajax("POST", "/panels/" + panel.dataset.panel + "/move/", { swap: "none", values: { position: to } })
      .then(() => document.getElementById(id)?.focus());
  }

  document.addEventListener("htmx:afterSwap", (e) => {
    // The editor opens for the form (a GET); a save answers with the fragments and closes it.
    if (e.target.id === "editor-body" && e.detail.requestConfig?.verb === "get" && !$("#editor").open) $("#editor").showModal();
  });
  document.addEventListener("panel-saved", () => $("#editor") && $("#editor").close());

  // --- Live: every durable event carries the board's next number (<!--12-->), transient ones the
  // current number (<!--~12-->), hello and ping the current number. A page that sees anything
  // else missed something: it fetches the board again and morphs it in place, holding what
  // arrives meanwhile. The dot says "live" only while the page is known to be in step.
  const board = () => $("#board");
  let seq = 0, syncing = false, held = [], socket = null, lastHeard = 0;
  const MARK = /<!--(~?)(\d+)-->/g;

  function status(state, words) {
    const d = $("#live-status"); if (!d) return;
    d.className = "live-dot " + state; d.textContent = words;
  }
  // Which of a message's numbers follow ours: "apply", "old" (all behind: a replay), or "gap".
  function check(text, replaying) {
    if (text.includes("data-resync")) return "gap";
    let next = seq, fresh = false, stale = false;
    for (const [, transient, n] of text.matchAll(MARK)) {
      const num = parseInt(n, 10);
      if (transient) { if (num > next) return "gap"; if (num < next) stale = true; continue; }
      if (num === next + 1) { next = num; fresh = true; } else if (num <= next) stale = true; else return "gap";
    }
    if (stale && !fresh && !replaying) return "gap";  // numbers went back: Redis was emptied
    if (stale && !fresh) return "old";
    seq = next; return "apply";
  }
  function control(message) {
    if (message.type === "hello" || message.type === "ping") {
      if (message.seq !== seq) resync(); else if (!syncing) status("on", "live");
    } else if (message.type === "resync") resync();
  }
  async function resync() {
    if (syncing) return;
    syncing = true; status("sync", "catching up");
    try {
      const response = await fetch(location.pathname, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      Idiomorph.morph($("#panels"), page.getElementById("panels"));
      htmx.process($("#panels"));
      seq = parseInt(page.getElementById("board").dataset.seq, 10) || 0;
    } catch (error) {
      syncing = false; status("off", "offline");
      setTimeout(resync, 3000); return;
    }
    const waiting = held; held = []; syncing = false;
    let again = false;
    for (const text of waiting) {
      const verdict = check(text, true);
      if (verdict === "apply") htmx.swap(document.body, keepShown(text), { swapStyle: "none" });
      else if (verdict === "gap") again = true;
    }
    if (again) resync(); else status(socket ? "on" : "off", socket ? "live" : "reconnecting");
  }
  document.addEventListener("htmx:wsBeforeMessage", (e) => {
    const text = e.detail.message; lastHeard = Date.now();
    if (text[0] === "{") { e.preventDefault(); control(JSON.parse(text)); return; }
    if (syncing) { e.preventDefault(); held.push(text); return; }
    if (check(text, false) !== "apply") { e.preventDefault(); resync(); }
  });
  // Out-of-band fragments for what this page does not show (a take's progress in a card that
  // shows another take, a comment on a light card not hydrated yet, the second copy of a guarded
  // insert) are dropped before htmx looks for them; a card placed next to a card this page does
  // not have means the page is out of step: it resyncs.
  htmx.defineExtension("slate-live", { transformResponse: keepShown });
  function keepShown(text) {
    if (!text.includes("hx-swap-oob")) return text;
    const holder = document.createElement("template"); holder.innerHTML = text;
    let dropped = false;
    for (const fragment of holder.content.querySelectorAll("[hx-swap-oob]")) {
      const how = fragment.getAttribute("hx-swap-oob");
      const target = how.includes(":") ? how.slice(how.indexOf(":") + 1) : "#" + CSS.escape(fragment.id);
      if (document.querySelector(target)) continue;
      const place = target.replace(/:not\(:has\(#[\w-]+\)\)/g, "");
      if (/^#panels( > #panel-\d+)?$|^#panel-\d+$/.test(place) && how !== "delete" && !document.querySelector(place)) resync();
      fragment.remove(); dropped = true;
    }
    return dropped ? holder.innerHTML : text;
  }
  document.addEventListener("htmx:wsOpen", (e) => { socket = e.detail.socketWrapper; lastHeard = Date.now(); });
  // 4012 (the server lost Redis) and 4013 (this page stopped reading): come back after a pause.
  // The ws extension itself retries only 1006/1011/1012/1013, which a server cannot send.
  document.addEventListener("htmx:wsClose", (e) => {
    socket = null; status("off", "reconnecting");
    const wrapper = e.detail.socketWrapper;
    if ([4012, 4013].includes(e.detail.event?.code) && wrapper) setTimeout(() => wrapper.reconnect(), 500 + Math.random() * 1500);
  });
  // The server pings every 15 s: a socket silent for longer is dead even if it looks open.
  setInterval(() => {
    if (socket && Date.now() - lastHeard > 40000) { status("off", "reconnecting"); socket.reconnect(); lastHeard = Date.now(); }
  }, 5000);
  if (board()) seq = parseInt(board().dataset.seq, 10) || 0;  // deferred: the page is parsed

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
  });
  document.addEventListener("htmx:load", (e) => { $$("form.generate", e.target).forEach(syncTool); });
})();

// Slate storyboard page: the board's views, the panel inspector, drag and keys, answers to every
// action, and keeping in step with the live socket. Everything that changes data goes through htmx
// (forms and htmx.ajax); fragments swap by id, the same ones the live events bring everybody else.
(function () {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const panels = () => $$("#panels > article.panel");
  const canEdit = () => !!$("#board[data-can-edit]");
  // From the board, so its answers go through slate-live like every answer there (a fragment the
  // socket already applied is dropped quietly), and never from an element about to go.
  const post = (url, values) => htmx.ajax("POST", url, { source: "#panels", swap: "none", values: values || {} });

  // --- Answers: every refusal or failure says so where the person is looking --------------------
  function toast(message, kind, ttl) {
    const box = $("#toasts"); if (!box) return;
    const t = document.createElement("div");
    t.className = "toast" + (kind ? " " + kind : ""); t.setAttribute("role", kind === "error" ? "alert" : "status");
    t.textContent = message; box.append(t); expire(t, ttl || 6000);
  }
  window.slateToast = toast;  // for review.js
  function expire(t, ttl) { setTimeout(() => t.remove(), ttl); }
  document.addEventListener("htmx:load", (e) => {
    $$(".toast[data-ttl]", e.target.parentElement || e.target).forEach((t) => { expire(t, +t.dataset.ttl); t.removeAttribute("data-ttl"); });
    counters(e.target);
  });
  const WORDS = { 403: "Your role does not allow that here.", 404: "That is no longer there: someone may have deleted it.",
    413: "That is too large to send.", 429: "Too many requests: wait a moment and try again." };
  document.addEventListener("htmx:responseError", (e) => {
    const status = e.detail.xhr.status;
    let message = WORDS[status] || "The studio could not do that (error " + status + "). Nothing was changed.";
    if (status === 403) {  // the server's own sentence, when it gave one
      const said = new DOMParser().parseFromString(e.detail.xhr.responseText, "text/html").querySelector("[data-message]");
      if (said) message = said.textContent.trim();
    }
    toast(message, "error");
  });
  document.addEventListener("htmx:sendError", () => toast("Network error: the studio could not be reached. Nothing was changed; try again.", "error", 9000));
  document.addEventListener("htmx:timeout", () => toast("The studio took too long to answer. Try again.", "error"));

  // Counters on fields with a length limit.
  function counters(root) {
    $$(".counted", root.querySelectorAll ? root : document).forEach((label) => {
      const field = $("textarea[maxlength], input[maxlength]", label); if (!field || $(".counter", label)) return;
      const out = document.createElement("span"); out.className = "counter"; out.setAttribute("aria-hidden", "true");
      const show = () => { const n = field.value.length, max = +field.maxLength; out.textContent = n + " / " + max; out.classList.toggle("near", n > max * 0.9); };
      field.addEventListener("input", show); show(); label.append(out);
    });
  }
  document.addEventListener("DOMContentLoaded", () => counters(document));
  document.addEventListener("reset", (e) => setTimeout(() => $$("textarea, input", e.target).forEach((f) => f.dispatchEvent(new Event("input"))), 0));

  // --- Views: three frame sizes and a list, remembered per browser ----------------------------
  function density(value) {
    const grid = $("#panels"); if (!grid) return;
    grid.dataset.density = value;
    $$("[data-density]", $(".view-switch")).forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.density === value)));
    try { localStorage.setItem("slate.density", value); } catch (error) { /* private mode */ }
  }
  document.addEventListener("click", (e) => {
    const b = e.target.closest(".view-switch [data-density]"); if (b) density(b.dataset.density);
  });
  document.addEventListener("DOMContentLoaded", () => {
    let saved = null; try { saved = localStorage.getItem("slate.density"); } catch (error) { /* ignore */ }
    if (saved && ["s", "m", "l", "list"].includes(saved)) density(saved);
  });

  // --- The panel inspector ------------------------------------------------------------------
  let inspected = null;  // the panel id the drawer shows
  function card(id) { return document.getElementById("panel-" + id); }
  function openInspector(id, focusSelector) {
    const drawer = $("#inspector"); if (!drawer || !card(id)) return;
    inspected = String(id);
    $$("#panels > .inspected").forEach((c) => c.classList.remove("inspected"));
    card(id).classList.add("inspected");
    drawer.hidden = false; $(".board-body").classList.add("inspecting");
    document.dispatchEvent(new CustomEvent("slate:inspect", { detail: { panel: +id } }));  // presence (review.js)
    htmx.ajax("GET", "/panels/" + id + "/inspector/", { target: "#inspector-body", swap: "innerHTML" }).then(() => {
      const field = $(focusSelector || ".inspector-head h2", drawer);
      if (field) { if (!focusSelector) field.tabIndex = -1; field.focus(); }
      syncForms(drawer);
    });
  }
  function closeInspector() {
    const drawer = $("#inspector"); if (!drawer || drawer.hidden) return;
    drawer.hidden = true; $(".board-body").classList.remove("inspecting"); $("#inspector-body").innerHTML = "";
    document.dispatchEvent(new CustomEvent("slate:inspect", { detail: { panel: null } }));
    const c = inspected && card(inspected); inspected = null;
    $$("#panels > .inspected").forEach((x) => x.classList.remove("inspected"));
    if (c) c.focus();
  }
  function step(delta) {
    const list = panels(); const i = list.indexOf(card(inspected));
    const next = list[i + delta]; if (next) { next.focus(); openInspector(next.dataset.panel); }
  }
  // Deleted from the inspector: it closes and the focus goes to the next card (or the one before).
  function deleteInspected() {
    const gone = card(inspected); if (!gone) return;
    const list = panels(), i = list.indexOf(gone), next = list[i + 1] || list[i - 1];
    closeInspector(); if (next) next.focus();
    post("/panels/" + gone.dataset.panel + "/delete/");
  }
  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-inspect-close]")) return closeInspector();
    if (e.target.closest("#inspector [data-delete]")) return deleteInspected();
    const stepper = e.target.closest("[data-inspect-step]"); if (stepper) return step(+stepper.dataset.inspectStep);
    const c = e.target.closest("#panels > article.panel");
    if (c && !e.target.closest("button, a, input, select, textarea, video") && !c.classList.contains("sortable-chosen")) openInspector(c.dataset.panel);
  });
  // Edits in progress are never overwritten; a form nobody touched follows what others change.
  document.addEventListener("input", (e) => { const f = e.target.closest("[data-edit-form]"); if (f) { f.dataset.dirty = "1"; $("[data-saved]", f).textContent = "Not saved yet"; } });
  document.addEventListener("panel-saved", () => {
    const f = $("#inspector [data-edit-form]"); if (!f) return;
    delete f.dataset.dirty; $("[data-saved]", f).textContent = "Saved";
  });
  // The inspector follows what others change, over the socket or after a resync: the takes and
  // comments lists, the edit form while nobody is typing in it, and which tools can start from
  // the take on the board (a take that lands makes Variation, Inpaint and Upscale available).
  async function refreshInspector({ form = false, tools = false, lists = false }) {
    const id = inspected; if (!id) return;
    const response = await fetch("/panels/" + id + "/inspector/", { headers: { "HX-Request": "true" } });
    if (!response.ok || id !== inspected) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const morph = (mine, theirs) => { if (mine && theirs) { Idiomorph.morph(mine, theirs); htmx.process(mine); } };
    if (lists) for (const part of ["takes", "comments", "ledger"]) morph(document.getElementById(`panel-${id}-${part}`), fresh.getElementById(`panel-${id}-${part}`));
    if (form || lists) for (const part of ["script", "review"]) morph(document.getElementById(`panel-${id}-${part}`), fresh.getElementById(`panel-${id}-${part}`));
    const edit = $("#inspector [data-edit-form]");
    if (form && edit && !edit.dataset.dirty && !edit.contains(document.activeElement)) { morph(edit, fresh.querySelector("[data-edit-form]")); counters(edit); }
    const generate = $("#inspector form.generate"), theirs = fresh.querySelector("form.generate");
    if (tools && generate && theirs) {
      const select = $("[data-tool-select]", generate);
      for (const option of select.options) {
        const now = $(`option[value="${option.value}"]`, theirs); if (now) { option.disabled = now.disabled; option.textContent = now.textContent; }
      }
      if (select.selectedOptions[0]?.disabled) select.value = "text2image";
      $(".hint", generate).innerHTML = $(".hint", theirs).innerHTML;
      syncForms(generate);
    }
  }
  document.addEventListener("htmx:wsAfterMessage", (e) => {
    if (!inspected) return;
    if (!card(inspected)) { closeInspector(); toast("The panel you had open was deleted.", "info"); return; }
    const about = (region) => e.detail.message.includes('id="panel-' + inspected + "-" + region + '"');
    if (about("meta") || about("frame")) refreshInspector({ form: about("meta"), tools: about("frame") });
    const num = $("#inspector .inspector-head .num"); const list = panels();
    if (num) num.textContent = list.indexOf(card(inspected)) + 1;
  });

  // Generation tools: options follow the tool; inpaint opens the painter first.
  function syncForms(root) {
    // `root` may be the generate form itself (a tool was chosen) or the inspector holding it.
    (root.matches("form.generate") ? [root] : $$("form.generate", root)).forEach((form) => {
      const tool = $("[data-tool-select]", form).value; form.dataset.tool = tool;
      $$("[data-model-select] option[data-tools]", form).forEach((o) => { o.disabled = !o.dataset.tools.split(" ").includes(tool); });
      const model = $("[data-model-select]", form); if (model && model.selectedOptions[0]?.disabled) model.value = "";
    });
  }
  document.addEventListener("change", (e) => { if (e.target.matches("[data-tool-select]")) syncForms(e.target.closest("form")); });
  document.addEventListener("submit", async (e) => {
    const form = e.target.closest("form.generate"); if (!form) return;
    const shown = inspected && $(".frame-img[data-take]", card(inspected));
    if (shown) $("[data-parent]", form).value = shown.dataset.take;  // tools start from the take on the board
    if (form.dataset.tool !== "inpaint" || $("[data-mask]", form).value) return;
    e.preventDefault(); e.stopPropagation();
    if (!shown || !window.SlatePainter) { toast("Inpainting needs a finished take on the board first.", "error"); return; }
    const mask = await window.SlatePainter.open(shown.tagName === "VIDEO" ? shown.poster : shown.src);
    if (mask) { $("[data-mask]", form).value = mask; htmx.trigger(form, "submit"); }
  }, true);
  // An undone delete leaves nothing to undo: its toast goes.
  document.addEventListener("htmx:afterRequest", (e) => {
    if (e.detail.successful && e.target.matches && e.target.matches("[data-undo]")) e.target.closest(".toast")?.remove();
  });
  document.addEventListener("htmx:afterRequest", (e) => {
    const form = e.target.closest && e.target.closest("form.generate");
    if (!form) return;
    $("[data-mask]", form).value = "";
    if (e.detail.successful) toast("Take queued: its progress shows on the panel.", "info", 3000);
  });

  // --- Order: drag (SortableJS), [ and ] keys -------------------------------------------------
  function movePanel(panel, to) {
    if (!panel || to < 0 || to >= panels().length) return;
    const id = panel.id;
    post("/panels/" + panel.dataset.panel + "/move/", { position: to }).then(() => document.getElementById(id)?.focus());
  }
  // A moved card is taken out and put back in its new place (see _panel_placed.html), by the
  // answer and again by the socket: the focus comes back with it in the same swap, so [ and ]
  // can repeat. A card that does not come back (deleted meanwhile) takes nothing with it.
  let refocus = null;
  document.addEventListener("htmx:oobBeforeSwap", (e) => {
    const focused = document.activeElement;
    if (e.detail.target !== focused || !focused.matches("#panels > article.panel")) return;
    refocus = focused.id; setTimeout(() => { refocus = null; }, 0);
  });
  document.addEventListener("htmx:oobAfterSwap", () => {
    const back = refocus && document.getElementById(refocus);
    if (back) { refocus = null; back.focus({ preventScroll: true }); }
  });
  document.addEventListener("DOMContentLoaded", () => {
    const grid = $("#panels"); if (!grid || !canEdit() || !window.Sortable) return;
    Sortable.create(grid, {
      draggable: "article.panel", animation: 150, delay: 180, delayOnTouchOnly: true,
      filter: "button, a, input, select, textarea, .overlay", preventOnFilter: false,
      onEnd: (evt) => { if (evt.oldDraggableIndex !== evt.newDraggableIndex) movePanel(evt.item, evt.newDraggableIndex); },
    });
  });

  // --- Dialogs --------------------------------------------------------------------------------
  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-close-dialog]")) e.target.closest("dialog").close();
    if (e.target.closest("[data-open-keys]")) $("#keys").showModal();
  });
  document.addEventListener("htmx:afterSwap", (e) => {
    if (e.target.id === "settings-body" && !$("#settings").open) $("#settings").showModal();
  });
  document.addEventListener("board-settings-saved", () => { $("#settings")?.close(); toast("Board settings saved.", "info", 3000); });
  // HX-Trigger fires before the answer's fragments are swapped in: look for the card after them.
  document.addEventListener("panel-added", (e) => {
    const id = e.detail?.panel; if (!id) return;
    setTimeout(() => { const c = card(id); if (c) { c.scrollIntoView({ block: "nearest" }); c.focus(); } }, 0);
  });

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
      for (const id of ["panels", "board-head", "board-bulk"]) {
        const mine = document.getElementById(id), theirs = page.getElementById(id);
        if (mine && theirs) { Idiomorph.morph(mine, theirs); htmx.process(mine); }
      }
      seq = parseInt(page.getElementById("board").dataset.seq, 10) || 0;
      // The inspector is not part of the board's page: what it missed, it reads again.
      if (inspected && !card(inspected)) closeInspector();
      else if (inspected) refreshInspector({ form: true, tools: true, lists: true });
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

  // --- Keyboard: the focused panel is the subject of every shortcut ----------------------------
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey && e.key === "Enter" && e.target.closest("form")) { e.preventDefault(); e.target.closest("form").requestSubmit(); return; }
    if ($("#review:not([hidden])")) return;  // review mode has its own keys (review.js)
    if (e.key === "Escape" && inspected && !$("dialog[open]")) { e.preventDefault(); closeInspector(); return; }
    if (e.target.closest("input, textarea, select, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
    const list = panels(); const current = document.activeElement.closest && document.activeElement.closest("#panels > article.panel");
    // From inside the inspector, ← and → go on from the panel it shows (as its ‹ › buttons do).
    const from = current || (inspected && $("#inspector").contains(document.activeElement) ? card(inspected) : null);
    const i = list.indexOf(current), at = list.indexOf(from);
    const go = (j) => { if (list[j]) { list[j].focus(); list[j].scrollIntoView({ block: "nearest" }); if (inspected) openInspector(list[j].dataset.panel); } };
    const edit = canEdit();
    switch (e.key) {
      case "ArrowRight": case "l": go(at < 0 ? 0 : Math.min(at + 1, list.length - 1)); break;
      case "ArrowLeft": case "h": go(at < 0 ? 0 : Math.max(at - 1, 0)); break;
      case "Enter": if (current && e.target === current) openInspector(current.dataset.panel); else return; break;
      case "g": if (current && edit) post("/panels/" + current.dataset.panel + "/generate/", { tool: "text2image" }); break;
      case "c": if (current) openInspector(current.dataset.panel, "[data-comment]"); break;
      case "e": if (current) openInspector(current.dataset.panel, "[data-edit-form] textarea"); break;
      case "[": if (current && edit) movePanel(current, i - 1); break;
      case "]": if (current && edit) movePanel(current, i + 1); break;
      case "Delete": case "Backspace": if (current && edit) { go(i + 1 < list.length ? i + 1 : i - 1); post("/panels/" + current.dataset.panel + "/delete/"); } break;
      case "d": if (current && edit) post("/panels/" + current.dataset.panel + "/duplicate/"); break;
      case "n": $("[data-new-panel]")?.focus(); break;
      case "1": density("s"); break; case "2": density("m"); break; case "3": density("l"); break; case "4": density("list"); break;
      case "?": $("#keys")?.showModal(); break;
      default: return;
    }
    e.preventDefault();
  });
})();

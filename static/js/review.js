// Review on the storyboard page: presence (who is here, which panel each has open), threads
// (reply, @mention autocomplete), and review mode: the board full screen, stepped with ← → or
// played for each panel's duration, its threads beside the frame and pins drawn on it. Frames
// and durations come from the board's own cards, which the live socket keeps current.
(function () {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const board = () => $("#board");
  const me = () => board()?.dataset.me;
  const toast = (m, k) => window.slateToast && window.slateToast(m, k || "info", 4000);

  // --- Presence: tell the board which panel this page has open -------------------------------
  let socket = null, focused = null;
  function tellFocus() {
    if (socket) socket.send(JSON.stringify({ type: "focus", panel: focused }), board());
  }
  document.addEventListener("htmx:wsOpen", (e) => { socket = e.detail.socketWrapper; if (focused !== null) tellFocus(); if (review.open) loadSide(); });
  document.addEventListener("htmx:wsClose", () => { socket = null; });
  document.addEventListener("slate:inspect", (e) => { if (!review.open) { focused = e.detail.panel; tellFocus(); } });
  // Each person's avatar on the card they have open (not ours: we know where we are).
  function markCards() {
    $$(".presence-marks").forEach((m) => m.remove());
    for (const person of $$("#board-presence li[data-panel]")) {
      if (person.dataset.user === me()) continue;
      const card = document.getElementById("panel-" + person.dataset.panel); if (!card) continue;
      let marks = $(":scope > .presence-marks", card);
      if (!marks) { marks = document.createElement("div"); marks.className = "presence-marks"; card.append(marks); }
      const dot = person.cloneNode(true); dot.removeAttribute("id"); marks.append(dot);
    }
    $$("#board-presence li").forEach((li) => li.classList.toggle("me", li.dataset.user === me()));
  }
  document.addEventListener("htmx:oobAfterSwap", markCards);
  document.addEventListener("htmx:afterSettle", markCards);

  // --- Threads: reply, pin context, @mentions ------------------------------------------------
  const formOf = (el) => (el.closest("#review-side, #inspector") || document).querySelector("[data-comment-form]");
  function context(form, words) {
    const box = $("[data-comment-context]", form);
    if (!words) { box.hidden = true; return; }
    $("span", box).textContent = words; box.hidden = false;
  }
  function clearForm(form) {
    $$("input[type=hidden]", form).forEach((i) => { i.value = ""; });
    context(form, null); pinning(false); drawDraft(null);
  }
  document.addEventListener("click", (e) => {
    const reply = e.target.closest("[data-reply]");
    if (reply) {
      const form = formOf(reply); if (!form) return;
      clearForm(form);
      $("[data-reply-to]", form).value = reply.dataset.reply;
      context(form, "Replying to " + reply.dataset.replyAuthor + "’s thread.");
      $("[data-comment]", form).focus();
      return;
    }
    if (e.target.closest("[data-comment-context-clear]")) { clearForm(e.target.closest("form")); return; }
    if (e.target.closest("[data-pin-toggle]")) { pinning(!pin.active); return; }
    const show = e.target.closest("[data-show-pin]");
    if (show && review.open) { const thread = show.closest("[data-take]"); showTake(thread.dataset.take, thread.dataset.commentId); }
  });
  document.addEventListener("htmx:afterRequest", (e) => {
    const form = e.detail.elt.closest && e.detail.elt.closest("[data-comment-form]");
    if (form && e.detail.successful) { form.reset(); clearForm(form); }
  });

  // @ offers the project's members; ↑ ↓ choose, Enter or Tab take, Esc closes.
  let members = null;
  const roster = () => members || (members = JSON.parse(board()?.dataset.members || "[]"));
  let menu = null;
  function mentionAt(field) {
    const before = field.value.slice(0, field.selectionStart);
    const m = before.match(/(^|[^\w@])@([\w.+-]*)$/);
    return m ? { start: field.selectionStart - m[2].length, query: m[2].toLowerCase() } : null;
  }
  function closeMenu() { if (menu) { menu.remove(); menu = null; } }
  function openMenu(field) {
    const at = mentionAt(field);
    const found = at ? roster().filter((p) => p.username.toLowerCase().startsWith(at.query) || p.name.toLowerCase().includes(at.query)).slice(0, 8) : [];
    if (!found.length) { closeMenu(); return; }
    if (!menu) {
      menu = document.createElement("ul"); menu.className = "mention-menu"; menu.id = "mention-menu"; menu.setAttribute("role", "listbox");
      field.closest("label").after(menu);
      field.setAttribute("aria-controls", menu.id);
    }
    menu.innerHTML = "";
    found.forEach((p, i) => {
      const li = document.createElement("li"); li.setAttribute("role", "option"); li.dataset.username = p.username;
      li.id = "mention-" + i; if (i === 0) li.setAttribute("aria-selected", "true");
      li.textContent = "@" + p.username + (p.name ? " · " + p.name : "");
      li.addEventListener("mousedown", (e) => { e.preventDefault(); take(field, p.username); });
      menu.append(li);
    });
    menu.field = field;
  }
  function take(field, username) {
    const at = mentionAt(field); if (!at) return closeMenu();
    const end = field.selectionStart;
    field.value = field.value.slice(0, at.start) + username + " " + field.value.slice(end);
    const caret = at.start + username.length + 1; field.setSelectionRange(caret, caret);
    field.dispatchEvent(new Event("input")); closeMenu();
  }
  document.addEventListener("input", (e) => { if (e.target.matches("[data-comment]")) openMenu(e.target); });
  document.addEventListener("focusout", (e) => { if (e.target.matches("[data-comment]")) setTimeout(closeMenu, 150); });
  document.addEventListener("keydown", (e) => {
    if (!menu || e.target !== menu.field) return;
    const items = $$("li", menu), i = items.findIndex((li) => li.getAttribute("aria-selected") === "true");
    const pick = (j) => { items.forEach((li) => li.removeAttribute("aria-selected")); items[j].setAttribute("aria-selected", "true"); e.target.setAttribute("aria-activedescendant", items[j].id); };
    if (e.key === "ArrowDown") pick((i + 1) % items.length);
    else if (e.key === "ArrowUp") pick((i - 1 + items.length) % items.length);
    else if ((e.key === "Enter" && !e.ctrlKey) || e.key === "Tab") take(e.target, items[Math.max(i, 0)].dataset.username);
    else if (e.key === "Escape") closeMenu();
    else return;
    e.preventDefault(); e.stopPropagation();
  }, true);

  // --- Review mode ----------------------------------------------------------------------------
  const review = { open: false, index: 0, playing: false, timer: null, startedAt: 0, shownTake: null };
  const R = (sel) => $(sel, $("#review"));
  const order = () => $$("#panels > article.panel").map((c) => c.dataset.panel);
  const duration = (id) => +($("#panel-" + id + "-meta")?.dataset.duration || 2000);
  const current = () => order()[review.index];

  function openReview(panelId) {
    const ids = order(); if (!ids.length) { toast("This board has no panels to review yet."); return; }
    $("[data-inspect-close]")?.click();
    review.open = true; $("#review").hidden = false; document.body.classList.add("reviewing");
    review.index = Math.max(0, ids.indexOf(String(panelId || ids[0])));
    history.replaceState(null, "", "/storyboards/" + board().dataset.storyboard + "/review/" + location.hash);
    timeline(); show(); R("[data-review-play]").focus();
  }
  function closeReview() {
    stop(); pinning(false);
    review.open = false; $("#review").hidden = true; document.body.classList.remove("reviewing");
    if (document.fullscreenElement) document.exitFullscreen();
    history.replaceState(null, "", "/storyboards/" + board().dataset.storyboard + "/");
    const card = document.getElementById("panel-" + current()); if (card) { card.focus(); card.scrollIntoView({ block: "nearest" }); }
    focused = null; tellFocus();
  }
  function frameOf(id) {
    const el = $("#panel-" + id + "-frame .frame-img");
    if (!el) return null;
    return el.tagName === "VIDEO" ? { video: el.getAttribute("src"), poster: el.getAttribute("poster"), take: el.dataset.take } : { image: el.getAttribute("src"), take: el.dataset.take };
  }
  function paint(frame) {
    const img = R("[data-review-img]"), video = R("[data-review-video]"), empty = R("[data-review-empty]");
    img.hidden = !(frame && (frame.image || frame.poster)) || !!(frame && frame.video && review.playing);
    video.hidden = !(frame && frame.video && review.playing);
    empty.hidden = !!frame;
    if (frame) img.src = frame.image || frame.poster || "";
    if (frame && frame.video && review.playing) { if (video.getAttribute("src") !== frame.video) video.src = frame.video; video.currentTime = 0; video.play().catch(() => {}); } else video.pause();
    // The canvas is exactly the frame's shape, so pins (fractions of it) sit where they were put.
    const aspect = $("#panel-" + current() + "-frame .frame")?.style.aspectRatio || "16 / 9";
    const [w, h] = aspect.split("/").map(Number);
    R("[data-review-canvas]").style.setProperty("--ar", w && h ? w / h : 16 / 9);
  }
  function show() {
    const id = current(), ids = order(); if (!id) return closeReview();
    const frame = frameOf(id);
    review.shownTake = frame ? frame.take : null;
    paint(frame);
    R("[data-review-other-take]").hidden = true;
    R("[data-review-pos]").textContent = "Panel " + (review.index + 1) + " of " + ids.length;
    const dialogue = $("#panel-" + id + "-meta .dialogue");
    const caption = R("[data-review-caption]");
    caption.textContent = dialogue ? $$("p", dialogue).map((p) => p.textContent).join("  ") : "";
    caption.hidden = !dialogue;
    clock(0);
    $$(".review-timeline button").forEach((b, i) => b.setAttribute("aria-current", i === review.index ? "true" : "false"));
    focused = +id; tellFocus();
    const next = frameOf(ids[review.index + 1]); if (next && next.image) new Image().src = next.image;  // no blank between panels
    loadSide();
  }
  let sideFor = null;
  async function loadSide() {
    const id = current(); sideFor = id;
    const response = await fetch("/panels/" + id + "/review/", { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!response.ok || sideFor !== id || !review.open) return;
    const side = $("#review-side"), typing = side.querySelector("[data-comment]");
    const draft = typing && typing.value && typing.closest("[data-comment-form]")?.closest(".review-side-body")?.dataset.panel === id ? typing.value : "";
    side.innerHTML = await response.text(); htmx.process(side);
    if (draft) $("[data-comment]", side).value = draft;
    drawPins();
    const asked = (location.hash.match(/comment-(\d+)/) || [])[1];  // from the inbox
    const thread = asked && document.getElementById("comment-" + asked);
    if (thread) { history.replaceState(null, "", location.pathname); thread.scrollIntoView({ block: "center" }); thread.classList.add("lit"); const t = thread.closest("[data-pin]"); if (t) showTake(t.dataset.take, t.dataset.commentId); }
  }
  function step(delta) {
    const n = order().length; const to = Math.min(Math.max(review.index + delta, 0), n - 1);
    if (to === review.index && delta) { if (review.playing && delta > 0) stop(); return; }
    review.index = to; pinning(false); show();
  }
  // Playback: each panel for its own duration; the clock shows where we are in the whole board.
  function play() {
    if (review.playing) return stop();
    if (review.index >= order().length - 1) review.index = 0;
    review.playing = true; R("[data-review-play]").setAttribute("aria-pressed", "true"); R("[data-review-play]").textContent = "Pause";
    show(); schedule();
  }
  function schedule() {
    clearTimeout(review.timer);
    review.startedAt = performance.now();
    const ms = duration(current());
    review.timer = setTimeout(() => { if (!review.playing) return; if (review.index >= order().length - 1) { stop(); return; } review.index += 1; show(); schedule(); }, ms);
    tick();
  }
  function tick() {
    if (!review.playing) return;
    clock(Math.min(performance.now() - review.startedAt, duration(current())));
    requestAnimationFrame(tick);
  }
  function stop() {
    review.playing = false; clearTimeout(review.timer);
    const button = R("[data-review-play]"); button.setAttribute("aria-pressed", "false"); button.textContent = "Play";
    R("[data-review-video]").pause();
    if (review.open) paint(frameOf(current()));
  }
  const fmt = (ms) => { const s = Math.round(ms / 1000); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); };
  function clock(within) {
    const ids = order(); let before = 0, total = 0;
    ids.forEach((id, i) => { const d = duration(id); if (i < review.index) before += d; total += d; });
    R("[data-review-clock]").textContent = fmt(before + within) + " / " + fmt(total);
    const head = R(".review-playhead"); if (head && total) head.style.left = (100 * (before + within) / total) + "%";
  }
  function timeline() {
    const bar = R("[data-review-timeline]"); bar.innerHTML = "";
    const ids = order(), total = ids.reduce((t, id) => t + duration(id), 0) || 1;
    ids.forEach((id, i) => {
      const b = document.createElement("button"); b.type = "button"; b.style.flexGrow = String(duration(id) / total * 1000);
      b.title = "Panel " + (i + 1) + " · " + (duration(id) / 1000) + " s"; b.setAttribute("aria-label", b.title);
      b.addEventListener("click", () => { review.index = i; if (review.playing) { show(); schedule(); } else show(); });
      bar.append(b);
    });
    const head = document.createElement("span"); head.className = "review-playhead"; head.setAttribute("aria-hidden", "true"); bar.append(head);
  }
  // A thread pinned on another take shows that take's frame until we step on.
  function showTake(takeId, commentId) {
    const src = $(`#review-side [data-frames] li[data-take="${takeId}"]`)?.dataset.src;
    if (!src) return;
    stop();
    review.shownTake = String(takeId); R("[data-review-img]").src = src; R("[data-review-img]").hidden = false; R("[data-review-empty]").hidden = true;
    const board_take = frameOf(current())?.take;
    const other = R("[data-review-other-take]");
    other.hidden = String(takeId) === String(board_take);
    $("span", other).textContent = "Showing take " + takeId + ", the one this note was made on.";
    drawPins(commentId);
  }
  function drawPins(highlight) {
    const layer = R("[data-pins]"); layer.innerHTML = "";
    for (const thread of $$("#review-side .thread[data-pin]")) {
      if (thread.dataset.take !== String(review.shownTake)) continue;
      const [x, y, w, h] = thread.dataset.pin.split(",").map(Number);
      const mark = document.createElement("button"); mark.type = "button";
      mark.className = "pin" + (w ? " area" : "") + (thread.classList.contains("resolved") ? " resolved" : "") + (thread.dataset.commentId === String(highlight) ? " lit" : "");
      mark.style.left = x * 100 + "%"; mark.style.top = y * 100 + "%";
      if (w) { mark.style.width = w * 100 + "%"; mark.style.height = h * 100 + "%"; }
      mark.dataset.number = thread.dataset.pinNumber; mark.setAttribute("aria-label", "Pin " + thread.dataset.pinNumber);
      mark.addEventListener("click", (e) => { e.stopPropagation(); thread.scrollIntoView({ block: "nearest" }); thread.classList.add("lit"); setTimeout(() => thread.classList.remove("lit"), 1500); });
      layer.append(mark);
    }
  }
  document.addEventListener("htmx:oobAfterSwap", () => {
    if (!review.open) return;
    drawPins();
    const frame = frameOf(current());  // a new take landed on the panel under review
    if (!review.playing && frame && frame.take !== review.shownTake && R("[data-review-other-take]").hidden) show();
  });
  document.addEventListener("htmx:wsAfterMessage", (e) => {
    if (!review.open) return;
    const id = current(), text = e.detail.message;
    if (text.includes(`id="panel-${id}-meta"`) || text.includes(`id="panel-${id}-frame"`) || text.includes(`id="comment-`) && text.includes("hx-swap-oob=\"true\"")) {
      clearTimeout(review.refresh); review.refresh = setTimeout(loadSide, 150);
    }
    if (text.includes('id="panels"') || text.includes("panel.card")) timeline();
  });

  // Pinning: a click is a point, a drag an area; both in fractions of the frame (0..1).
  const pin = { active: false, start: null };
  function pinning(on) {
    pin.active = !!on && review.open;
    const toggle = $("#review-side [data-pin-toggle]"); if (toggle) toggle.setAttribute("aria-pressed", String(pin.active));
    if (!review.open) return;
    R("[data-review-pinning]").hidden = !pin.active;
    R("[data-review-canvas]").classList.toggle("pinning", pin.active);
    if (pin.active) stop();
  }
  function fraction(e) {
    const box = R("[data-review-img]").getBoundingClientRect();
    const clamp = (v) => Math.min(Math.max(v, 0), 1);
    return { x: clamp((e.clientX - box.left) / box.width), y: clamp((e.clientY - box.top) / box.height) };
  }
  function drawDraft(box) {
    const d = $("#review [data-pin-draft]"); if (!d) return;
    if (!box) { d.hidden = true; return; }
    d.hidden = false; d.classList.toggle("area", !!box.w);
    d.style.left = box.x * 100 + "%"; d.style.top = box.y * 100 + "%";
    d.style.width = box.w ? box.w * 100 + "%" : ""; d.style.height = box.h ? box.h * 100 + "%" : "";
  }
  document.addEventListener("pointerdown", (e) => {
    if (!pin.active || !e.target.closest("[data-review-canvas]")) return;
    if (!review.shownTake) { toast("There is no frame to pin on yet: generate a take first.", "error"); pinning(false); return; }
    e.preventDefault(); pin.start = fraction(e); drawDraft(pin.start);
  });
  document.addEventListener("pointermove", (e) => {
    if (!pin.start) return;
    const p = fraction(e), s = pin.start;
    drawDraft({ x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) });
  });
  document.addEventListener("pointerup", (e) => {
    if (!pin.start) return;
    const p = fraction(e), s = pin.start; pin.start = null;
    const area = Math.abs(p.x - s.x) > 0.01 && Math.abs(p.y - s.y) > 0.01;
    const box = area ? { x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) } : { x: s.x, y: s.y };
    const form = $("#review-side [data-comment-form]"); if (!form) return;
    const round = (v) => (v === undefined ? "" : String(Math.round(v * 10000) / 10000));
    for (const k of ["x", "y", "w", "h"]) form.elements["pin_" + k].value = round(box[k]);
    form.elements.take.value = review.shownTake; form.elements.reply_to.value = "";
    drawDraft(box); pinning(false); R("[data-review-pinning]").hidden = true;
    context(form, (area ? "Pinned on an area" : "Pinned on a point") + " of take " + review.shownTake + ".");
    $("[data-comment]", form).focus();
  });

  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-review-open]") && board()) { e.preventDefault(); openReview($("#panels > .inspected")?.dataset.panel || document.activeElement?.closest?.("#panels > article.panel")?.dataset.panel); return; }
    if (!review.open) return;
    if (e.target.closest("[data-review-close]")) closeReview();
    else if (e.target.closest("[data-review-play]")) play();
    else if (e.target.closest("[data-review-step]")) { stop(); step(+e.target.closest("[data-review-step]").dataset.reviewStep); }
    else if (e.target.closest("[data-review-fullscreen]")) fullscreen();
    else if (e.target.closest("[data-review-back-to-board]")) show();
  });
  function fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen(); else $("#review").requestFullscreen?.().catch(() => {});
  }
  document.addEventListener("keydown", (e) => {
    if (!review.open) {
      if (e.key === "r" && !e.target.closest("input, textarea, select, dialog, [contenteditable]") && !e.ctrlKey && !e.metaKey && !e.altKey && board()) { e.preventDefault(); openReview(document.activeElement?.closest?.("#panels > article.panel")?.dataset.panel); }
      return;
    }
    if (e.key === "Escape") { e.preventDefault(); if (pin.active) pinning(false); else if (e.target.closest("textarea") && e.target.value) e.target.blur(); else closeReview(); return; }
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
    switch (e.key) {
      case "ArrowRight": case "l": stop(); step(1); break;
      case "ArrowLeft": case "h": stop(); step(-1); break;
      case " ": case "k": play(); break;
      case "Home": stop(); review.index = 0; show(); break;
      case "End": stop(); review.index = order().length - 1; show(); break;
      case "f": fullscreen(); break;
      case "p": pinning(!pin.active); break;
      case "c": $("#review-side [data-comment]")?.focus(); break;
      default: return;
    }
    e.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", () => {
    markCards();
    if (board()?.hasAttribute("data-review-open")) {
      const wanted = (location.hash.match(/panel-(\d+)/) || [])[1];
      openReview(wanted);
    }
  });
})();

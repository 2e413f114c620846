// Takes history in the panel inspector: "from take 12" jumps to the parent take; two takes are
// compared one over the other with a slider; "Recall settings" puts a take's settings back.
// Every take event replaces the takes list (slate.js), so what is picked lives here, never in
// that markup; the comparison is a dialog of its own outside the inspector.
(function () {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  let picked = null;  // the take picked first with "Compare…"
  let opener = null;  // a selector for what opened the comparison: focus goes back there

  // The board's toasts (slate.js draws them the same way; it keeps its function to itself).
  function say(message, kind) {
    const box = $("#toasts"); if (!box) return;
    const t = document.createElement("div");
    t.className = "toast" + (kind ? " " + kind : ""); t.setAttribute("role", kind === "error" ? "alert" : "status");
    t.textContent = message; box.append(t); setTimeout(() => t.remove(), 6000);
  }

  // --- Lineage: a parent link scrolls to that take and lights it up -----------------------------
  document.addEventListener("click", (e) => {
    const jump = e.target.closest("[data-take-jump]"); if (!jump) return;
    const row = document.getElementById("take-" + jump.dataset.takeJump + "-row"); if (!row) return;
    e.preventDefault();
    row.scrollIntoView({ block: "center", behavior: "smooth" });
    row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash");
    row.tabIndex = -1; row.focus({ preventScroll: true });
  });

  // --- Compare: pick two, or one and the take on the board ----------------------------------------
  function markPicked() {
    for (const b of $$("[data-compare]")) {
      const on = b.dataset.compare === picked, label = on ? "Picked: now another" : "Compare…";
      if (b.textContent !== label) { b.textContent = label; b.setAttribute("aria-pressed", String(on)); }
    }
  }
  // The list is replaced under us: mark the picked take again in the new one.
  new MutationObserver(() => { if (picked) markPicked(); }).observe(document.body, { childList: true, subtree: true });

  document.addEventListener("click", (e) => {
    const pair = e.target.closest("[data-compare-pair]");
    if (pair) { const [a, b] = pair.dataset.comparePair.split(" "); open(a, b, `[data-compare-pair="${pair.dataset.comparePair}"]`); return; }
    const pick = e.target.closest("[data-compare]"); if (!pick) return;
    const id = pick.dataset.compare;
    if (picked === id) { picked = null; markPicked(); return; }  // pressed again: unpicked
    if (!picked) { picked = id; markPicked(); say(`Take ${id} picked: press Compare… on another take.`, "info"); return; }
    const first = picked; picked = null; markPicked();
    open(first, id, `[data-compare="${id}"]`);
  });

  function dialog() {
    let d = document.getElementById("take-compare");
    if (d) return d;
    d = document.createElement("dialog");
    d.id = "take-compare"; d.className = "take-compare-dialog"; d.setAttribute("aria-labelledby", "take-compare-title");
    d.addEventListener("close", () => {
      d.replaceChildren();
      const back = opener && $(opener); opener = null;
      if (back) back.focus();
    });
    d.addEventListener("click", (e) => { if (e.target === d || e.target.closest("[data-compare-close]")) d.close(); });
    document.body.append(d);
    return d;
  }

  async function open(a, b, from) {
    let response;
    try { response = await fetch(`/takes/compare/?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`); }
    catch (error) { say("Network error: the studio could not be reached.", "error"); return; }
    if (!response.ok) {
      const said = response.status === 409 || response.status === 422;
      say(said ? await response.text() : "Those takes are no longer there: someone may have deleted them.", "error");
      return;
    }
    const d = dialog();
    d.innerHTML = await response.text();
    opener = from;
    d.showModal();
    split(d, 50);
    $(".compare-handle", d).focus();
  }

  // The split, in percent of the stage's width from the left: take A left of it, take B right.
  function split(root, value) {
    const stage = $("[data-compare-stage]", root), handle = $(".compare-handle", root), box = $(".take-compare", root);
    if (!stage) return;
    value = Math.max(0, Math.min(100, Math.round(value)));
    stage.style.setProperty("--split", value + "%");
    handle.setAttribute("aria-valuenow", String(value));
    handle.setAttribute("aria-valuetext", `${value}% take ${box.dataset.a}, ${100 - value}% take ${box.dataset.b}`);
  }
  const current = (root) => +$(".compare-handle", root).getAttribute("aria-valuenow");

  // Mouse and touch alike (pointer events); a vertical swipe still scrolls (touch-action: pan-y).
  document.addEventListener("pointerdown", (e) => {
    const stage = e.target.closest("#take-compare [data-compare-stage]"); if (!stage || e.button > 0) return;
    const root = stage.closest("dialog");
    const follow = (event) => { const r = stage.getBoundingClientRect(); split(root, ((event.clientX - r.left) / r.width) * 100); };
    stage.setPointerCapture(e.pointerId); follow(e);
    const stop = () => { stage.removeEventListener("pointermove", follow); $(".compare-handle", root)?.focus(); };
    stage.addEventListener("pointermove", follow);
    stage.addEventListener("pointerup", stop, { once: true });
    stage.addEventListener("pointercancel", stop, { once: true });
    e.preventDefault();
  });
  const KEYS = { ArrowLeft: -5, ArrowDown: -5, ArrowRight: 5, ArrowUp: 5, PageDown: -25, PageUp: 25 };
  document.addEventListener("keydown", (e) => {
    const handle = e.target.closest && e.target.closest("#take-compare .compare-handle"); if (!handle) return;
    const root = handle.closest("dialog");
    if (e.key in KEYS) split(root, current(root) + KEYS[e.key] * (e.shiftKey ? 0.2 : 1));
    else if (e.key === "Home") split(root, 0);
    else if (e.key === "End") split(root, 100);
    else return;
    e.preventDefault();
  });

  // --- Recall: the panel's fields come back live (panel.updated); the Generate form, here -----
  document.addEventListener("click", (e) => {
    const recall = e.target.closest("[data-recall]"); if (!recall) return;
    // From the board, like slate.js's own posts: the answer goes through slate-live, and its
    // events reach this page even when the takes list was replaced meanwhile.
    htmx.ajax("POST", recall.dataset.recall, { source: "#panels", swap: "none" });
  });
  document.addEventListener("take-recalled", (e) => {
    const recalled = e.detail, inspector = $("#inspector .inspector");
    if (!inspector || inspector.dataset.panel !== String(recalled.panel)) return;
    const edit = $("[data-edit-form]", inspector);
    for (const [name, value] of Object.entries(recalled.fields)) {
      const field = edit && edit.elements[name];
      // A non-bubbling input updates the field's counter without marking the form unsaved.
      if (field && field.value !== value) { field.value = value; field.dispatchEvent(new Event("input")); }
    }
    const notes = fillGenerate($("form.generate", inspector), recalled.settings);
    say([`Take ${recalled.take}'s settings are back: its prompt on the panel, its model, seed and settings in the Generate form.`, ...notes].join(" "), "info");
  });

  function fillGenerate(form, settings) {
    if (!form) return [];
    const notes = [], tool = $("[data-tool-select]", form);
    const wanted = $(`option[value="${settings.tool}"]`, tool);
    if (wanted && !wanted.disabled) tool.value = settings.tool;
    else { tool.value = "text2image"; notes.push(`${wanted ? wanted.textContent.replace(/ \(.*/, "") : settings.tool} needs a finished take on the board: Text to image is set instead.`); }
    tool.dispatchEvent(new Event("change", { bubbles: true }));  // slate.js shows the tool's options
    const model = $("[data-model-select]", form), known = model && $(`option[value="${CSS.escape(settings.model)}"]`, model);
    if (model && settings.tool !== "upscale") {
      model.value = known && !known.disabled ? settings.model : "";
      if (!known) notes.push(`The model ${settings.model} is no longer in the studio: the default is set.`);
    }
    for (const name of ["seed", "steps", "guidance", "width", "height", "num_frames"]) {
      const field = form.elements[name]; if (field) field.value = settings[name] ?? "";
    }
    if (settings.strength != null && form.elements.strength) {
      form.elements.strength.value = settings.strength;
      form.elements.strength.dispatchEvent(new Event("input"));  // its <output> follows
    }
    if (settings.scale && form.elements.scale) form.elements.scale.value = String(settings.scale);
    const onBoard = $("#inspector .takes")?.dataset.selected;
    if (settings.parent_take && tool.value === settings.tool && String(settings.parent_take) !== onBoard) {
      notes.push(`It started from take ${settings.parent_take}; Generate starts from the take on the board: use take ${settings.parent_take} first to start from it.`);
    }
    return notes;
  }
})();

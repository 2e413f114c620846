// The inpaint mask painter: the dialog in templates/storyboards/_painter.html, on its own so any
// page can use it. SlatePainter.open(src) shows the take at `src` and resolves to a PNG data URL
// of the mask at the take's natural size (black = keep, white = repaint, opaque) when the person
// presses Inpaint, or to null when they cancel, press Esc or the dialog closes otherwise.
//
// The canvas has the take's pixel size and holds the paint as white with alpha = coverage, so the
// picture shows through where nothing is painted; the mask is that canvas flattened onto black.
(function () {
  "use strict";
  const UNDO_LEVELS = 30;
  const SIZE_KEY_STEP = 4;  // screen pixels per [ or ]
  // Soft edges mean an eraser over paint leaves a faint ring (up to a quarter coverage where the
  // two edges meet): unseen, yet it would keep Inpaint on and send a mask with next to nothing in
  // it. Paint below this coverage within an eraser stroke's bounds is dropped.
  const ERASED_BELOW = 96;

  let dialog, img, canvas, ctx, cursor, size, sizeValue, undoButton, clearButton, goButton;
  let mode = "brush";
  let history = [];   // snapshots, oldest first; the last is what the canvas shows
  let stroke = null;  // {id, x, y, erasing, box} in take pixels while a pointer paints
  let settle = null;  // resolves the promise the current open() returned
  let opening = 0;    // a later open() wins over one still loading its picture

  function setup() {
    if (dialog) return;
    dialog = document.getElementById("painter");
    if (!dialog) throw new Error("SlatePainter needs the markup of storyboards/_painter.html on the page.");
    const $ = (sel) => dialog.querySelector(sel);
    img = $("#painter-img"); canvas = $("#painter-canvas"); cursor = $(".painter-cursor");
    size = $("#painter-size"); sizeValue = $("#painter-size-value");
    undoButton = $("#painter-undo"); clearButton = $("#painter-clear"); goButton = $("#painter-go");
    // Snapshots read the canvas back after every stroke: keep it where reading is cheap.
    ctx = canvas.getContext("2d", { willReadFrequently: true });

    canvas.addEventListener("pointerdown", strokeStart);
    canvas.addEventListener("pointermove", strokeMove);
    canvas.addEventListener("pointerup", strokeEnd);
    canvas.addEventListener("pointercancel", strokeEnd);
    canvas.addEventListener("pointerleave", () => cursor.classList.remove("on"));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());  // a long press paints
    dialog.querySelectorAll("[data-painter-mode]").forEach((button) =>
      button.addEventListener("click", () => setMode(button.dataset.painterMode)));
    size.addEventListener("input", showSize);
    undoButton.addEventListener("click", undo);
    clearButton.addEventListener("click", clear);
    $("#painter-cancel").addEventListener("click", () => dialog.close());
    goButton.addEventListener("click", () => finish(maskDataUrl()));
    // Esc, Cancel, or closed by the page. A close queued before a quick reopen finds it open: not ours.
    dialog.addEventListener("close", () => { if (!dialog.open) finish(null); });
    // Capture on window: runs before the page's own shortcuts, which must wait behind a modal.
    window.addEventListener("keydown", onKey, true);
  }

  async function open(src) {
    setup();
    finish(null);  // a second open() ends the first
    const ticket = ++opening;
    const probe = new Image();
    probe.src = src;
    try {
      await probe.decode();
    } catch {
      throw new Error("The take's picture could not be loaded: " + src);
    }
    if (ticket !== opening) return null;
    img.src = src;
    canvas.width = probe.naturalWidth; canvas.height = probe.naturalHeight;  // also clears it
    dialog.style.setProperty("--painter-ratio", String(probe.naturalWidth / probe.naturalHeight));
    history = [{ runs: Uint32Array.of(canvas.width * canvas.height, 0), painted: false }];
    stroke = null;
    setMode("brush"); showSize(); update();
    dialog.showModal();
    dialog.focus();  // not the first tool: nothing looks chosen by keyboard, and keys still reach us
    return new Promise((resolve) => { settle = resolve; });
  }

  function finish(result) {
    const resolve = settle;
    settle = null; stroke = null;
    if (dialog.open) dialog.close();
    if (resolve) resolve(result);
  }

  // --- painting ---------------------------------------------------------------------------

  function toTake(e) {
    const box = canvas.getBoundingClientRect();
    return {
      x: (e.clientX - box.left) * canvas.width / box.width,
      y: (e.clientY - box.top) * canvas.height / box.height,
    };
  }

  function strokeStart(e) {
    // The primary button, a finger, a pen tip (button 0) or a pen's eraser end (button 5).
    if (stroke || (e.button !== 0 && e.button !== 5)) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    const box = canvas.getBoundingClientRect();
    // The slider is in screen pixels, so a brush looks the same size on a phone and a desktop
    // whatever the take's resolution; the canvas works in the take's pixels.
    const width = Math.max(1, size.value * canvas.width / box.width);
    const erasing = mode === "eraser" || e.button === 5;
    ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "#fff";
    ctx.lineWidth = width; ctx.lineCap = "round"; ctx.lineJoin = "round";
    const at = toTake(e);
    stroke = { id: e.pointerId, ...at, erasing, width, box: { left: at.x, top: at.y, right: at.x, bottom: at.y } };
    ctx.beginPath(); ctx.arc(at.x, at.y, width / 2, 0, Math.PI * 2); ctx.fill();
    moveCursor(e);
  }

  function strokeMove(e) {
    moveCursor(e);
    if (!stroke || e.pointerId !== stroke.id) return;
    // A fast hand moves further than one event a frame: draw through every coalesced point.
    const points = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const point of points.length ? points : [e]) {
      const to = toTake(point);
      ctx.beginPath(); ctx.moveTo(stroke.x, stroke.y); ctx.lineTo(to.x, to.y); ctx.stroke();
      stroke.x = to.x; stroke.y = to.y;
      const box = stroke.box;
      box.left = Math.min(box.left, to.x); box.right = Math.max(box.right, to.x);
      box.top = Math.min(box.top, to.y); box.bottom = Math.max(box.bottom, to.y);
    }
  }

  function strokeEnd(e) {
    if (!stroke || e.pointerId !== stroke.id) return;
    if (stroke.erasing) dropFaint(stroke);
    stroke = null;
    if (e.pointerType === "touch") cursor.classList.remove("on");
    commit();
  }

  function dropFaint({ box, width }) {
    const left = Math.max(0, Math.floor(box.left - width)), top = Math.max(0, Math.floor(box.top - width));
    const right = Math.min(canvas.width, Math.ceil(box.right + width));
    const bottom = Math.min(canvas.height, Math.ceil(box.bottom + width));
    if (right <= left || bottom <= top) return;
    const area = ctx.getImageData(left, top, right - left, bottom - top);
    const pixels = area.data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] < ERASED_BELOW) pixels[i] = 0;
    ctx.putImageData(area, left, top);
  }

  function moveCursor(e) {
    const box = canvas.getBoundingClientRect();
    cursor.style.left = e.clientX - box.left + "px";
    cursor.style.top = e.clientY - box.top + "px";
    cursor.classList.add("on");
  }

  function setMode(name) {
    mode = name;
    dialog.dataset.mode = name;
    dialog.querySelectorAll("[data-painter-mode]").forEach((button) =>
      button.setAttribute("aria-pressed", String(button.dataset.painterMode === name)));
  }

  function showSize() {
    sizeValue.value = size.value;
    cursor.style.width = cursor.style.height = size.value + "px";
  }

  // --- undo ---------------------------------------------------------------------------------
  // One snapshot per stroke (and per Clear). A snapshot keeps only the paint's coverage, run-length
  // encoded: a 4x upscale is 4096 px square, and 30 plain RGBA copies of that would be 2 GB, while
  // a mask is a few long runs a row.

  function snapshot() {
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const runs = [];
    let alpha = pixels[3], length = 0, painted = false;
    for (let i = 3; i < pixels.length; i += 4) {
      if (pixels[i] === alpha) { length++; continue; }
      runs.push(length, alpha); painted ||= alpha > 0;
      alpha = pixels[i]; length = 1;
    }
    runs.push(length, alpha); painted ||= alpha > 0;
    return { runs: Uint32Array.from(runs), painted };
  }

  function restore(shot) {
    const image = ctx.createImageData(canvas.width, canvas.height);
    const pixels = image.data;
    let p = 0;
    for (let r = 0; r < shot.runs.length; r += 2) {
      const end = p + shot.runs[r] * 4, alpha = shot.runs[r + 1];
      if (!alpha) { p = end; continue; }
      for (; p < end; p += 4) { pixels[p] = pixels[p + 1] = pixels[p + 2] = 255; pixels[p + 3] = alpha; }
    }
    ctx.putImageData(image, 0, 0);
  }

  function commit() {
    history.push(snapshot());
    if (history.length > UNDO_LEVELS + 1) history.shift();
    update();
  }

  function undo() {
    if (stroke || history.length < 2) return;
    history.pop();
    restore(history[history.length - 1]);
    update();
  }

  function clear() {
    if (stroke || !history[history.length - 1].painted) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    commit();
  }

  function update() {
    const painted = history[history.length - 1].painted;
    // A mask with nothing to repaint would only spend GPU time on the same picture.
    goButton.disabled = !painted;
    clearButton.disabled = !painted;
    undoButton.disabled = history.length < 2;
  }

  // --- keys and the result ------------------------------------------------------------------

  function onKey(e) {
    if (!dialog.open) return;
    const handled = painterKey(e);
    if (handled) e.preventDefault();
    if (handled || !dialog.contains(e.target)) e.stopPropagation();
  }

  function painterKey(e) {
    if (e.altKey) return false;
    if (e.ctrlKey || e.metaKey) {
      if (e.shiftKey || e.key.toLowerCase() !== "z") return false;
      undo(); return true;
    }
    switch (e.key) {
      case "b": case "B": setMode("brush"); return true;
      case "e": case "E": setMode("eraser"); return true;
      case "[": size.stepDown(SIZE_KEY_STEP / Number(size.step)); showSize(); return true;
      case "]": size.stepUp(SIZE_KEY_STEP / Number(size.step)); showSize(); return true;
      default: return false;
    }
  }

  function maskDataUrl() {
    const mask = document.createElement("canvas");
    mask.width = canvas.width; mask.height = canvas.height;
    const flat = mask.getContext("2d");
    flat.fillStyle = "#000"; flat.fillRect(0, 0, mask.width, mask.height);
    flat.drawImage(canvas, 0, 0);  // white at coverage a over black: grey level a, opaque
    return mask.toDataURL("image/png");
  }

  window.SlatePainter = { open };
})();

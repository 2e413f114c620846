// Slate script editor: Fountain on the left, the printed page on the right (htmx refreshes it),
// saves that never lose anything. A save names the version it started from; when someone saved
// since, the studio refuses it (409) with a merge, and the person chooses: review the merged text,
// or put theirs on top. Their own text is kept in localStorage first, as is every unsaved draft.
(function () {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);

  function setup() {
    const root = $("#script-editor"); if (!root) return;
    const area = $("#script-text"), form = $("#script-form"), base = $("#base-version");
    const canEdit = root.hasAttribute("data-can-edit");
    const id = root.dataset.script;
    const keys = { draft: "slate.script." + id + ".draft", mine: "slate.script." + id + ".mine" };
    let savedText = area.value;  // the text of the version `base` names, as far as we know
    let saving = false, pending = null;

    const store = {
      get(key) { try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (error) { return null; } },
      set(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (error) { /* full or private */ } },
      drop(key) { try { localStorage.removeItem(key); } catch (error) { /* ignore */ } },
    };
    const dirty = () => canEdit && area.value !== savedText;
    function state(message, kind) {
      const out = $("#save-state"); out.textContent = message;
      out.className = "save-state" + (kind ? " " + kind : "");
    }
    function refreshPreview() { if (canEdit) htmx.trigger(area, "preview-refresh"); }
    function ago(ms) {
      const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
      return s < 60 ? "just now" : s < 3600 ? Math.round(s / 60) + " min ago" : new Date(ms).toLocaleString();
    }

    // --- Where the cursor is, and jumping to a line from the preview -----------------------
    function lineStart(n) {
      let at = 0;
      for (let i = 1; i < n; i++) { const next = area.value.indexOf("\n", at); if (next < 0) break; at = next + 1; }
      return at;
    }
    function showLine(offset) {
      const line = area.value.slice(0, offset).split("\n").length;
      const lh = parseFloat(getComputedStyle(area).lineHeight) || 20;
      area.scrollTop = Math.max(0, (line - 1) * lh - area.clientHeight / 3);
    }
    function cursor() {
      const line = area.value.slice(0, area.selectionStart).split("\n").length;
      $("#cursor-pos").textContent = "Line " + line + " of " + area.value.split("\n").length;
    }
    ["keyup", "click", "select", "input"].forEach((name) => area.addEventListener(name, cursor));
    cursor();
    $("#preview").addEventListener("click", (e) => {
      const block = e.target.closest("[data-line]"); if (!block || !+block.dataset.line) return;
      const at = lineStart(+block.dataset.line);
      area.focus(); area.setSelectionRange(at, at); showLine(at); cursor();
    });
    document.body.addEventListener("htmx:afterSwap", (e) => {
      if (e.target.id !== "preview") return;
      const page = $(".sp-page", e.target); if (!page) return;
      const n = +page.dataset.scenes;
      $("#preview-facts").textContent = n + " scene" + (n === 1 ? "" : "s") + " · about " + page.dataset.runtime;
    });

    if (!canEdit) return;  // a viewer reads; nothing below applies

    // --- Drafts: every unsaved change stays in this browser ---------------------------------
    let draftTimer = null;
    area.addEventListener("input", () => {
      clearTimeout(draftTimer);
      draftTimer = setTimeout(() => {
        if (dirty()) store.set(keys.draft, { text: area.value, base: +base.value, at: Date.now() });
        else store.drop(keys.draft);
      }, 300);
      if (!saving) state(dirty() ? "Unsaved changes" : "");
      conflictHelp();
    });
    const draft = store.get(keys.draft);
    if (draft && typeof draft.text === "string" && draft.text !== area.value) {
      const notice = $("#draft-notice");
      $("[data-text]", notice).textContent = "Unsaved changes from " + ago(draft.at) + " (made on version " + draft.base + ") are kept in this browser.";
      notice.hidden = false;
      $("[data-restore-draft]", notice).addEventListener("click", () => {
        area.value = draft.text; base.value = draft.base; notice.hidden = true;
        state("Draft restored: save to keep it."); refreshPreview(); conflictHelp(); cursor();
      });
      $("[data-discard-draft]", notice).addEventListener("click", () => { store.drop(keys.draft); notice.hidden = true; });
    } else if (draft) {
      store.drop(keys.draft);
    }
    window.addEventListener("beforeunload", (e) => {
      if (dirty()) { e.preventDefault(); e.returnValue = ""; }
    });

    // --- Saving ---------------------------------------------------------------------------
    const markers = (text) => (text.match(/^<<<<<<< /gm) || []).length;
    async function save() {
      if (saving) return;
      const text = area.value, marked = markers(text);
      if (marked && !confirm("The text still has " + marked + " conflict" + (marked === 1 ? "" : "s") + " marked <<<<<<< … >>>>>>>. Save it anyway?")) return;
      saving = true; state("Saving…");
      let response, data = null;
      try {
        response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                                              headers: { Accept: "application/json" } });
        data = await response.json().catch(() => null);
      } catch (error) {
        saving = false;
        state("Not saved: the studio could not be reached. Your text is kept in this browser; try again.", "error");
        return;
      }
      saving = false;
      if (response.ok && data) return saved(text, data);
      if (response.status === 409 && data && data.merged !== undefined) return conflict(text, data);
      const reason = response.status === 403 ? "your role cannot edit this script."
        : (data && data.detail) || "the studio answered " + response.status + ".";
      state("Not saved: " + reason, "error");
    }
    function saved(text, data) {
      savedText = text; base.value = data.version; root.dataset.version = data.version;
      $("#version-badge").textContent = "v" + data.version;
      const by = $("#latest-by");
      by.textContent = "Saved by ";
      const who = document.createElement("strong"); who.textContent = data.by; by.append(who, " just now");
      if (!dirty()) store.drop(keys.draft);
      $("#conflict").hidden = true; $("#live-notice").hidden = true;
      state(area.value === text ? "Saved version " + data.version : "Saved version " + data.version + "; newer edits are unsaved", "ok");
      conflictHelp();
      const list = $("#versions");
      if (list) htmx.ajax("GET", list.dataset.url, { target: "#versions", swap: "outerHTML" });
    }
    function conflict(mine, data) {
      store.set(keys.mine, { text: mine, base: +base.value, at: Date.now() });
      pending = data;
      $("#live-notice").hidden = true;  // the panel says it all
      const panel = $("#conflict");
      $("[data-conflict-title]", panel).textContent = data.by + " saved version " + data.latest + " while you were editing.";
      panel.hidden = false;
      state("Not saved: version " + data.latest + " is newer.", "error");
      $("[data-review-merged]", panel).focus();
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "s") { e.preventDefault(); save(); }
    });

    // --- The choices after a refused save --------------------------------------------------
    $("[data-review-merged]").addEventListener("click", () => {
      if (!pending) return;
      area.value = pending.merged; base.value = pending.latest; savedText = pending.latest_text;
      $("#conflict").hidden = true; area.dispatchEvent(new Event("input"));
      refreshPreview(); conflictHelp(true); nextConflict();
    });
    $("[data-keep-mine]").addEventListener("click", () => {
      if (!pending) return;
      base.value = pending.latest; savedText = pending.latest_text;
      $("#conflict").hidden = true;
      state("Your text will replace version " + pending.latest + " when you save (Ctrl+S).");
      area.focus();
    });
    $("[data-dismiss-conflict]").addEventListener("click", () => { $("#conflict").hidden = true; });
    $("[data-put-back]").addEventListener("click", () => {
      const mine = store.get(keys.mine); if (!mine) return;
      area.value = mine.text; area.dispatchEvent(new Event("input")); refreshPreview();
      state("Your text is back; it will replace version " + base.value + " when you save.");
    });
    $("[data-next-conflict]").addEventListener("click", nextConflict);

    function conflictHelp(force) {
      const help = $("#conflict-help"), n = markers(area.value);
      if (!force && !n && help.hidden) return;
      if (force || !help.hidden) {
        help.hidden = false;
        $("[data-text]", help).textContent = n
          ? n + " conflict" + (n === 1 ? "" : "s") + " marked <<<<<<< yours … >>>>>>>: resolve " + (n === 1 ? "it" : "them") + ", then save."
          : "Every conflict is resolved: save when ready.";
        $("[data-next-conflict]", help).hidden = !n;
        $("[data-put-back]", help).hidden = !store.get(keys.mine);
      }
    }
    function nextConflict() {
      const text = area.value;
      let at = text.indexOf("<<<<<<< ", area.selectionEnd);
      if (at < 0) at = text.indexOf("<<<<<<< ");
      if (at < 0) return;
      let end = text.indexOf("\n>>>>>>> ", at);
      end = end < 0 ? text.length : (text.indexOf("\n", end + 1) + 1 || text.length);
      area.focus(); area.setSelectionRange(at, end); showLine(at); cursor();
    }

    // --- Live: someone else saved ----------------------------------------------------------
    function heard(event) {
      if (!(+event.version > +base.value)) return;
      const notice = $("#live-notice");
      notice.textContent = (event.by || "Someone") + " saved version " + event.version + ". ";
      if (dirty()) {
        notice.append("Your changes are kept: saving will offer to merge them.");
      } else {
        const reload = document.createElement("button");
        reload.type = "button"; reload.className = "link"; reload.textContent = "Load version " + event.version;
        reload.addEventListener("click", () => location.reload());
        notice.append(reload);
      }
      notice.hidden = false;
    }
    let tries = 0;
    function listen() {
      if (!root.dataset.socket || !("WebSocket" in window)) return;
      const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + root.dataset.socket);
      socket.addEventListener("open", () => { tries = 0; });
      socket.addEventListener("message", (m) => {
        let event = null; try { event = JSON.parse(m.data); } catch (error) { return; }
        if (event && event.type === "script.saved") heard(event);
      });
      socket.addEventListener("close", () => { tries += 1; setTimeout(listen, Math.min(30000, 2000 * tries) + Math.random() * 1000); });
    }
    listen();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

/* The cashier screen: renders the station's view, sends the cashier's keys and touches to /api. */
"use strict";

(function () {
  const $ = Ruyi.el;
  let state = null;
  let shownSale = 0;
  const picks = { manual: 0, void: 0, reprint: 0 };
  let found = [];
  let records = { sales: [], queue: [] };

  const live = Ruyi.stream("cashier", render);

  /* Actions run one after another: a key pressed while an earlier action is on its way (S then Enter, typed
     fast) acts on the state that action left, never on the screen as it was before. */
  let pending = Promise.resolve();
  function enqueue(fn) {
    const p = pending.then(fn, fn);
    pending = p.catch(() => null);
    return p;
  }
  async function send(path, body) {
    const { ok, data } = await Ruyi.post(path, body);
    if (data && data.state) live.accept(data.state);
    if (!ok && data && data.detail) showNotice(data.detail);
    return { ok, data };
  }
  function act(path, body) {
    return enqueue(() => send(path, body));
  }
  /* A sale key: decided when its turn comes, on the state then current. */
  function saleKey(decide) {
    enqueue(async () => {
      const sale = state && state.sale;
      const todo = sale ? decide(sale) : null;
      if (todo) await send(todo[0], todo[1]);
    });
  }

  function showNotice(n) {
    const box = $("notice");
    if (!n) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    box.className = "notice " + n.level;
    box.textContent = n.text;
  }

  function setStatus(id, text, ok) {
    const node = $(id);
    node.querySelector(".v").textContent = text;
    node.classList.toggle("bad", ok === false);
    node.classList.toggle("good", ok === true);
  }

  function renderStatus(s) {
    const server = s.server.since ? s.server.text + " (" + Ruyi.t("status.since") + " " + s.server.since + ")" : s.server.text;
    setStatus("st-server", server, s.server.ok);
    setStatus("st-unsynced", String(s.unsynced), s.unsynced === 0 ? true : null);
    setStatus("st-printer", s.printer.text, s.printer.ok);
    $("st-printer").classList.toggle("warn", s.printer.warn === true);
    setStatus("st-reader", s.reader.text, s.reader.ok);
    setStatus("st-reprint", String(s.reprint_pending), s.reprint_pending === 0 ? null : false);
    $("st-reprint").dataset.count = s.reprint_pending;
    countdownAt = s.countdown_ms;
    tickCountdown();
  }

  let countdownAt = null;
  function tickCountdown() {
    if (countdownAt === null || countdownAt === undefined) {
      setStatus("st-countdown", Ruyi.t("status.countdown.none"), null);
      return;
    }
    const left = countdownAt - Date.now();
    if (left <= 0) {
      setStatus("st-countdown", Ruyi.t("status.countdown.over"), false);
      return;
    }
    const m = Math.floor(left / 60000);
    const h = Math.floor(m / 60);
    setStatus("st-countdown", h + ":" + String(m % 60).padStart(2, "0"), m < 120 ? false : null);
  }
  setInterval(tickCountdown, 1000);

  async function render(s) {
    await Ruyi.loadWords(s.lang);
    state = s;
    $("canteen").textContent = s.canteen;
    $("terminal").textContent = s.terminal;
    renderStatus(s.status);
    showNotice(s.reading ? { level: "info", text: s.reading } : s.notice);
    for (const [k, v] of Object.entries(s.today || {})) {
      const node = $("t-" + k);
      if (node) node.textContent = v;
    }
    const sale = s.sale;
    $("sale").hidden = !sale;
    $("idle").hidden = !!sale;
    document.body.dataset.mode = s.mode;
    if (sale) renderSale(sale);
    const done = s.done;
    $("done").hidden = !done;
    if (done) {
      $("done-receipt").textContent = done.receipt;
      $("done-who").textContent = done.who || Ruyi.t("sale.walk_in");
      $("done-pays").textContent = done.pays;
      $("done-method").textContent = done.method;
    }
    if (s.z) renderZ(s.z);
    const c = s.cashier;
    $("cashier").textContent = c.text;
    $("cashier").classList.toggle("bad", c.signed_out);
    $("signed-out").hidden = !c.signed_out;
    document.body.dataset.signedOut = c.signed_out ? "1" : "";
  }

  function renderSale(sale) {
    $("who").textContent = sale.walk_in ? Ruyi.t("sale.walk_in") : sale.who;
    const extra = [];
    if (sale.age !== null && sale.age !== undefined) extra.push(sale.age + " " + Ruyi.t("sale.age"));
    if (sale.identified_by === "manual") extra.push(Ruyi.t("sale.manual"));
    $("who-extra").textContent = extra.join(" · ");
    $("q-price").textContent = sale.price;
    $("q-subsidy").textContent = sale.subsidy;
    $("q-pays").textContent = sale.pays;
    $("q-why").textContent = [sale.why, ...sale.more].filter(Boolean).join("；");
    $("q-full").hidden = !sale.full_price;
    $("quote").classList.toggle("full-price", sale.full_price);
    const menu = $("menu");
    menu.replaceChildren(
      ...sale.menu.map((m) => {
        const b = document.createElement("button");
        b.className = "item" + (m.id === sale.item ? " chosen" : "");
        b.dataset.item = m.id;
        b.setAttribute("aria-pressed", m.id === sale.item ? "true" : "false");
        b.setAttribute("aria-keyshortcuts", m.key);
        b.innerHTML = "<kbd></kbd><span class=name></span><span class=price></span>";
        b.querySelector("kbd").textContent = m.key;
        b.querySelector(".name").textContent = m.name;
        b.querySelector(".price").textContent = m.price;
        b.onclick = () => act("/api/sale/item", { item_id: m.id });
        return b;
      })
    );
    const methods = $("methods");
    methods.replaceChildren(
      ...sale.methods.map((m) => {
        const b = document.createElement("button");
        b.className = "method" + (m.id === sale.method ? " chosen" : "");
        b.dataset.method = m.id;
        b.setAttribute("role", "radio");
        b.setAttribute("aria-checked", m.id === sale.method ? "true" : "false");
        b.setAttribute("aria-keyshortcuts", m.key);
        b.innerHTML = "<kbd></kbd> <span></span>";
        b.querySelector("kbd").textContent = m.key;
        b.querySelector("span").textContent = m.label;
        b.onclick = () => act("/api/sale/method", { method: m.id });
        return b;
      })
    );
    if (sale.no !== shownSale) {
      shownSale = sale.no;
      Ruyi.stampShown(sale.no);
    }
  }

  /* ---- dialogs */

  function openDialog(id) {
    document.querySelectorAll("dialog[open]").forEach((d) => d.close());
    const d = $(id);
    d.querySelector(".dlg-msg").textContent = "";
    d.showModal();
    return d;
  }

  /* A refusal (its detail) or, for an action that went through but did not print, the station's notice. */
  function dlgMsg(d, res) {
    const data = res.data || {};
    const n = data.detail || (data.state && data.state.notice);
    if (n) d.querySelector(".dlg-msg").textContent = n.text;
  }

  function openDialogNow() {
    return document.querySelector("dialog[open]");
  }

  function listRows(ol, rows, picked, onPick) {
    ol.replaceChildren(
      ...rows.map((r, i) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "row" + (i === picked ? " chosen" : "");
        b.setAttribute("aria-pressed", i === picked ? "true" : "false");
        b.textContent = (i < 9 ? i + 1 + ". " : "") + r.text;
        b.onclick = () => onPick(i);
        li.appendChild(b);
        return li;
      })
    );
  }

  function recordText(r) {
    return [r.receipt, r.time, r.who || Ruyi.t("sale.walk_in"), r.item, r.pays, r.kind === "void" ? Ruyi.t("action.void") : ""]
      .filter(Boolean)
      .join("  ");
  }

  // manual lookup
  function openManual() {
    const d = openDialog("d-manual");
    found = [];
    picks.manual = 0;
    renderFound();
    $("m-tail").value = "";
    $("m-name").value = "";
    $("m-reason").value = "";
    $("m-tail").focus();
    return d;
  }
  function renderFound() {
    const rows = found.map((f) => ({
      text: f.name + "  " + Ruyi.t("manual.born") + " " + (f.born ?? "?") + "  " + Ruyi.t("manual.tail_short") + " " + f.tail,
    }));
    listRows($("m-found"), rows, picks.manual, (i) => {
      picks.manual = i;
      renderFound();
      $("m-reason").focus();
    });
  }
  async function manualSearch() {
    const d = $("d-manual");
    const res = await act("/api/manual/find", { tail: $("m-tail").value, name: $("m-name").value });
    d.querySelector(".dlg-msg").textContent = "";
    if (!res.ok) return dlgMsg(d, res);
    found = res.data.found;
    picks.manual = 0;
    renderFound();
    if (!found.length) d.querySelector(".dlg-msg").textContent = Ruyi.t("manual.none");
    else $("m-reason").focus();
  }
  async function manualOpen() {
    const d = $("d-manual");
    if (!found.length) return manualSearch();
    const res = await act("/api/manual/open", { ref: found[picks.manual].ref, reason: $("m-reason").value });
    if (res.ok) d.close();
    else dlgMsg(d, res);
  }
  $("m-search").onclick = manualSearch;
  $("m-open").onclick = manualOpen;

  // void
  async function openVoid() {
    const d = openDialog("d-void");
    records = (await (await fetch("/api/records")).json());
    picks.void = 0;
    renderVoid();
    if (!records.sales.length) d.querySelector(".dlg-msg").textContent = Ruyi.t("void.none");
    $("v-reason").value = "";
    $("v-reason").focus();
  }
  function renderVoid() {
    listRows($("v-list"), records.sales.map((r) => ({ text: recordText(r) })), picks.void, (i) => {
      picks.void = i;
      renderVoid();
      $("v-reason").focus();
    });
  }
  async function voidDo() {
    const d = $("d-void");
    const sale = records.sales[picks.void];
    if (!sale) return;
    const res = await act("/api/void", { meal_id: sale.id, reason: $("v-reason").value });
    if (res.ok) d.close();
    else dlgMsg(d, res);
  }
  $("v-do").onclick = voidDo;

  // reprint
  async function openReprint() {
    openDialog("d-reprint");
    records = (await (await fetch("/api/records")).json());
    picks.reprint = 0;
    renderReprint();
  }
  function renderReprint() {
    const q = $("r-queue");
    q.replaceChildren(
      ...(records.queue.length ? records.queue : [null]).map((r) => {
        const li = document.createElement("li");
        li.textContent = r ? recordText(r) : Ruyi.t("reprint.queue_empty");
        return li;
      })
    );
    $("r-all").disabled = !records.queue.length;
    listRows($("r-list"), records.sales.map((r) => ({ text: recordText(r) })), picks.reprint, (i) => {
      picks.reprint = i;
      renderReprint();
    });
  }
  async function reprintDo() {
    const d = $("d-reprint");
    const rec = records.sales[picks.reprint];
    const res = await act("/api/reprint", { meal_id: rec ? rec.id : null });
    if (res.ok && res.data.printed) d.close();
    else dlgMsg(d, res);
  }
  async function reprintAll() {
    const d = $("d-reprint");
    const res = await act("/api/reprint-all", {});
    records = (await (await fetch("/api/records")).json());
    renderReprint();
    if (res.ok && !records.queue.length) d.close();
    else dlgMsg(d, res);
  }
  $("r-do").onclick = reprintDo;
  $("r-all").onclick = reprintAll;

  // end of day
  function openZ() {
    openDialog("d-z");
    $("z-result").replaceChildren();
  }
  function renderZ(z) {
    const dl = $("z-result");
    if (!$("d-z").open) return;
    const rows = [
      [Ruyi.t("today.meals"), z.meals],
      [Ruyi.t("today.subsidised"), z.subsidised],
      [Ruyi.t("today.voids"), z.voids],
      [Ruyi.t("sale.price"), z.price],
      [Ruyi.t("sale.subsidy"), z.subsidy],
      [Ruyi.t("today.paid"), z.paid],
    ];
    dl.replaceChildren(
      ...rows.map(([k, v]) => {
        const div = document.createElement("div");
        div.innerHTML = "<dt></dt><dd></dd>";
        div.querySelector("dt").textContent = k;
        div.querySelector("dd").textContent = v;
        return div;
      })
    );
  }
  async function zDo() {
    const res = await act("/api/end-of-day", {});
    if (res.ok && res.data.z) renderZ(res.data.z);
    else dlgMsg($("d-z"), res);
  }
  $("z-do").onclick = zDo;

  document.querySelectorAll("dialog .close").forEach((b) => (b.onclick = () => b.closest("dialog").close()));
  document.querySelectorAll("#d-manual .chip").forEach((b) => (b.onclick = () => ($("m-reason").value = b.textContent)));
  document.querySelectorAll("#d-void .chip").forEach((b) => (b.onclick = () => ($("v-reason").value = b.textContent)));

  /* ---- buttons and keys */

  $("confirm").onclick = () => act("/api/sale/confirm", {});
  $("cancel").onclick = () => act("/api/sale/cancel", {});
  $("a-walkin").onclick = () => act("/api/walk-in", {});
  $("a-manual").onclick = openManual;
  $("a-void").onclick = openVoid;
  $("a-reprint").onclick = openReprint;
  $("a-z").onclick = openZ;
  $("a-printer").onclick = () => act("/api/printer/check", {});
  /* K: sign out whoever is signed in (refused while a sale is open) and ask the next cashier's number and PIN. */
  async function openSignIn() {
    if (state && state.cashier.who) {
      const res = await act("/api/cashier/sign-out", {});
      if (!res.ok) return;
    }
    const d = openDialog("d-signin");
    $("c-number").value = "";
    $("c-pin").value = "";
    $("c-number").focus();
    return d;
  }
  async function signInDo() {
    const d = $("d-signin");
    const res = await act("/api/cashier/sign-in", { number: $("c-number").value, pin: $("c-pin").value });
    $("c-pin").value = "";
    if (res.ok) d.close();
    else dlgMsg(d, res);
  }
  $("a-signin").onclick = openSignIn;
  $("c-do").onclick = signInDo;
  $("a-lang").onclick = () => act("/api/lang", { lang: state && state.lang === "en" ? "zh" : "en" });

  function pickKey(ev, list, key, render) {
    const n = Number(ev.key);
    if (ev.key === "ArrowDown") picks[key] = Math.min(picks[key] + 1, list.length - 1);
    else if (ev.key === "ArrowUp") picks[key] = Math.max(picks[key] - 1, 0);
    else if (n >= 1 && n <= 9 && n <= list.length && !(ev.target instanceof HTMLInputElement)) picks[key] = n - 1;
    else return false;
    ev.preventDefault();
    render();
    return true;
  }

  function dialogKeys(d, ev) {
    if (ev.key === "Escape") return; // the browser closes the dialog
    if (d.id === "d-manual") {
      if (pickKey(ev, found, "manual", renderFound)) return;
      if (ev.key === "Enter") {
        ev.preventDefault();
        if (document.activeElement === $("m-tail") || document.activeElement === $("m-name")) manualSearch();
        else manualOpen();
      }
    } else if (d.id === "d-void") {
      if (pickKey(ev, records.sales, "void", renderVoid)) return;
      if (ev.key === "Enter") {
        ev.preventDefault();
        voidDo();
      }
    } else if (d.id === "d-reprint") {
      if (pickKey(ev, records.sales, "reprint", renderReprint)) return;
      if (ev.key === "Enter") {
        ev.preventDefault();
        reprintDo();
      } else if (ev.key.toLowerCase() === "a") {
        ev.preventDefault();
        reprintAll();
      }
    } else if (d.id === "d-signin" && ev.key === "Enter") {
      ev.preventDefault();
      if (document.activeElement === $("c-number")) $("c-pin").focus();
      else signInDo();
    } else if (d.id === "d-z" && ev.key === "Enter") {
      ev.preventDefault();
      zDo();
    }
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
    const d = openDialogNow();
    if (d) return dialogKeys(d, ev);
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const n = Number(ev.key);
    if (n >= 1 && n <= 9) {
      ev.preventDefault();
      saleKey((sale) => (n <= sale.menu.length ? ["/api/sale/item", { item_id: sale.menu[n - 1].id }] : null));
      return;
    }
    if (["x", "w", "z"].includes(key)) {
      ev.preventDefault();
      saleKey((sale) => {
        const m = sale.methods.find((m) => m.key.toLowerCase() === key);
        return m ? ["/api/sale/method", { method: m.id }] : null;
      });
      return;
    }
    if (ev.key === "Enter") {
      ev.preventDefault();
      saleKey(() => ["/api/sale/confirm", {}]);
      return;
    }
    if (ev.key === "Escape") {
      ev.preventDefault();
      saleKey(() => ["/api/sale/cancel", {}]);
      return;
    }
    if (key === "n") {
      ev.preventDefault();
      saleKey(() => (state && state.waiting ? ["/api/sale/replace", {}] : null));
      return;
    }
    const actions = { s: "a-walkin", r: "a-manual", v: "a-void", b: "a-reprint", j: "a-z", p: "a-printer", l: "a-lang", k: "a-signin" };
    if (actions[key]) {
      ev.preventDefault();
      $(actions[key]).click();
    }
  });
})();

/* A touched button keeps no focus outside dialogs, so Enter always means "confirm", never "press it again". */
document.addEventListener("click", (ev) => {
  const b = ev.target instanceof Element ? ev.target.closest("button") : null;
  if (b && !document.querySelector("dialog[open]")) b.blur();
});

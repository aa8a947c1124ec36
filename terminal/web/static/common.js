/* Shared by the cashier screen and the elder display: the catalogue, the live state stream, small helpers.
   Plain JavaScript, no build step, nothing fetched from outside the terminal. */
"use strict";

const Ruyi = {
  lang: null,
  words: {},

  async loadWords(lang) {
    if (lang === Ruyi.lang) return;
    const res = await fetch("/api/catalogue?lang=" + lang);
    Ruyi.words = await res.json();
    Ruyi.lang = lang;
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = Ruyi.t(el.dataset.i18n);
    });
    document.querySelectorAll("[data-reason]").forEach((el) => {
      el.textContent = Ruyi.t(el.dataset.reason);
    });
  },

  t(key, values) {
    let s = Ruyi.words[key] ?? key;
    if (values) for (const [k, v] of Object.entries(values)) s = s.replace("{" + k + "}", v);
    return s;
  },

  /* The live state: one EventSource, reconnecting by itself; `onState` gets each view (newest version only). */
  stream(view, onState) {
    let seen = -1;
    let es = null;
    const open = () => {
      es = new EventSource("/api/events?view=" + view);
      es.addEventListener("state", (ev) => {
        const state = JSON.parse(ev.data);
        if (state.v < seen) return;
        seen = state.v;
        onState(state);
      });
      es.onerror = () => {
        document.body.classList.add("disconnected");
      };
      es.onopen = () => {
        document.body.classList.remove("disconnected");
      };
    };
    open();
    return {
      accept(state) {
        if (state && state.v >= seen) {
          seen = state.v;
          onState(state);
        }
      },
    };
  },

  async post(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    return { ok: res.ok, data };
  },

  el(id) {
    return document.getElementById(id);
  },

  /* Stamp when a sale's quote is on screen (the frame after the DOM update): the benchmark reads these. */
  stampShown(no) {
    requestAnimationFrame(() => {
      (window.__ruyiShown = window.__ruyiShown || []).push({ no, at: performance.timeOrigin + performance.now() });
    });
  },
};

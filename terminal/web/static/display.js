/* The elder display: greeting with the masked name, the meal's price, the subsidy and what to pay. */
"use strict";

(function () {
  const $ = Ruyi.el;
  const forced = new URLSearchParams(location.search).get("lang");
  let doneTimer = null;
  let shown = 0;

  function show(which) {
    for (const id of ["idle", "sale", "done"]) $(id).hidden = id !== which;
    document.body.dataset.mode = which;
  }

  Ruyi.stream("display", async (s) => {
    await Ruyi.loadWords(forced === "en" || forced === "zh" ? forced : s.lang);
    $("canteen").textContent = s.canteen;
    clearTimeout(doneTimer);
    if (s.mode === "sale") {
      $("hello").textContent = s.name ? Ruyi.t("display.hello", { name: s.name }) : Ruyi.t("display.hello_guest");
      $("price").textContent = s.price;
      $("subsidy-row").hidden = !s.subsidy;
      $("subsidy").textContent = s.subsidy ? "−" + s.subsidy : "";
      $("pays").textContent = s.pays;
      show("sale");
      if (s.no !== shown) {
        shown = s.no;
        Ruyi.stampShown(s.no);
      }
    } else if (s.mode === "done" && Date.now() < s.until_ms) {
      $("paid").textContent = s.pays;
      show("done");
      doneTimer = setTimeout(() => show("idle"), s.until_ms - Date.now());
    } else {
      show("idle");
    }
  });
})();

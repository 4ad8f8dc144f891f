/* Pledge consent banner. Plain JavaScript, no build step, no dependencies.
 *
 * Configured from the manifest via /v1/consent/config; every choice is POSTed to
 * /v1/consent (the server keeps the evidence and answers with a signed receipt) and kept in
 * a first-party cookie so scripts can be unblocked without a round trip on the next page.
 * Scripts marked <script type="text/plain" data-category="X"> stay inert until X is allowed.
 */
(function () {
  "use strict";
  var me = document.currentScript;
  var base = new URL(me.src, location.href).origin;
  var lang = me.getAttribute("data-lang") || "";
  var jurisdiction = me.getAttribute("data-jurisdiction") || "global";
  var nonce = me.nonce || me.getAttribute("nonce") || "";
  var cfg = null, root = null, lastFocus = null, receipt = null;
  var gpcSignal = navigator.globalPrivacyControl === true;

  function readStored() {
    var name = (cfg && cfg.cookie.name) || "pledge_consent";
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    if (!m) return null;
    try { return JSON.parse(decodeURIComponent(m[1])); } catch (e) { return null; }
  }

  function writeStored(state) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = cfg.cookie.name + "=" + encodeURIComponent(JSON.stringify(state)) +
      "; path=/; max-age=" + cfg.cookie.days * 86400 + "; SameSite=Lax" + secure;
  }

  function clearCookie(name) {
    var host = location.hostname, parts = host.split("."), domains = ["", host];
    for (var i = 1; i < parts.length - 1; i++) domains.push("." + parts.slice(i).join("."));
    domains.forEach(function (d) {
      document.cookie = name + "=; path=/; max-age=0" + (d ? "; domain=" + d : "");
    });
  }

  function allowed(state, category) {
    return category === "strictly_necessary" || !!(state && state.c && state.c[category]);
  }

  function activate(state) {
    var blocked = document.querySelectorAll('script[type="text/plain"][data-category]');
    Array.prototype.forEach.call(blocked, function (old) {
      if (old.hasAttribute("data-pledge-done") || !allowed(state, old.getAttribute("data-category"))) return;
      var s = document.createElement("script");
      Array.prototype.forEach.call(old.attributes, function (a) {
        if (a.name !== "type" && a.name !== "nonce") s.setAttribute(a.name, a.value);
      });
      s.nonce = old.nonce || nonce;
      if (old.getAttribute("data-src")) s.src = old.getAttribute("data-src");
      else s.text = old.textContent;
      old.setAttribute("data-pledge-done", "");
      old.parentNode.insertBefore(s, old.nextSibling);
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  function gpcApplies() { return gpcSignal && cfg.gpc.applies; }

  function build(customise) {
    if (root) root.remove();
    var t = cfg.texts, stored = readStored();
    root = el("div", { "class": "pledge-banner", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "pledge-title", "aria-describedby": "pledge-intro", lang: cfg.language });
    root.appendChild(el("h2", { id: "pledge-title", tabindex: "-1" }, t.title));
    root.appendChild(el("p", { id: "pledge-intro" }, t.intro));
    if (gpcApplies()) root.appendChild(el("p", { "class": "pledge-gpc", role: "status", id: "pledge-gpc" }, cfg.gpc.message));
    var link = el("a", { href: base + cfg.notice.url }, t.notice);
    root.appendChild(el("p")).appendChild(link);
    var list = el("div", { "class": "pledge-categories", id: "pledge-categories" });
    list.hidden = !customise;
    cfg.categories.forEach(function (c) {
      var row = el("div", { "class": "pledge-category" });
      var id = "pledge-cat-" + c.id;
      var box = el("input", { type: "checkbox", id: id, name: c.id, "aria-describedby": id + "-desc" });
      var locked = gpcApplies() && cfg.gpc.categories.indexOf(c.id) >= 0;
      box.checked = c.required || (!locked && allowed(stored, c.id) && !!stored);
      if (c.required) box.disabled = true;
      var label = el("label", { "for": id }, c.name + (c.required ? " (" + t.always_on + ")" : ""));
      row.appendChild(box); row.appendChild(label);
      row.appendChild(el("p", { id: id + "-desc" }, c.description));
      list.appendChild(row);
    });
    root.appendChild(list);
    var actions = el("div", { "class": "pledge-actions" });
    function button(text, action) {
      var b = el("button", { type: "button", "class": "pledge-button", "data-action": action }, text);
      b.addEventListener("click", function () { choose(action); });
      actions.appendChild(b);
      return b;
    }
    button(t.accept_all, "accept_all");
    button(t.reject_all, "reject_all");
    var custom = button(customise ? t.save : t.customise, customise ? "custom" : "customise");
    custom.setAttribute("aria-controls", "pledge-categories");
    custom.setAttribute("aria-expanded", customise ? "true" : "false");
    root.appendChild(actions);
    root.appendChild(el("p", { "class": "pledge-status", role: "status", id: "pledge-status" }));
    document.body.appendChild(root);
    lastFocus = lastFocus || document.activeElement;
    root.querySelector("h2").focus();
  }

  function close() {
    if (root) root.remove();
    root = null;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
    lastFocus = null;
  }

  function choose(action) {
    if (action === "customise") { build(true); return; }
    var categories = {};
    cfg.categories.forEach(function (c) {
      if (c.required) return;
      if (action === "accept_all") categories[c.id] = true;
      else if (action === "reject_all") categories[c.id] = false;
      else categories[c.id] = !!root.querySelector("#pledge-cat-" + c.id).checked;
    });
    var before = readStored();
    var mechanism = action;
    if (action === "custom" && before && Object.keys(categories).every(function (k) {
      return !categories[k] || allowed(before, k); }) && Object.keys(categories).some(function (k) {
      return !categories[k] && allowed(before, k); })) mechanism = "withdrawal";
    send(mechanism, mechanism === "withdrawal" ? onlyOff(categories) : categories, before);
  }

  function onlyOff(categories) {
    var off = {};
    Object.keys(categories).forEach(function (k) { if (!categories[k]) off[k] = false; });
    return off;
  }

  function send(mechanism, categories, before) {
    var body = { mechanism: mechanism, categories: mechanism === "gpc" ? {} : categories,
      jurisdiction: cfg.jurisdiction, language: cfg.language, gpc: gpcSignal };
    return fetch(base + cfg.endpoint, { method: "POST", credentials: "include",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { if (!r.ok) throw new Error("consent not recorded: " + r.status); return r.json(); })
      .then(function (made) {
        receipt = made;
        var state = { v: cfg.version, c: {}, g: made.gpc_applied ? 1 : 0, id: made.id };
        cfg.categories.forEach(function (c) {
          if (c.required) return;
          var value = made.choices.categories[c.id];
          state.c[c.id] = value === undefined ? allowed(before, c.id) && !!before && before.v === cfg.version : value;
        });
        cfg.categories.forEach(function (c) {
          if (allowed(before, c.id) && !allowed(state, c.id)) c.cookies.forEach(clearCookie);
        });
        writeStored(state);
        activate(state);
        document.dispatchEvent(new CustomEvent("pledge:consent", { detail: { state: state, receipt: made } }));
        if (mechanism !== "gpc") close();
        return made;
      });
  }

  function start(config) {
    cfg = config;
    var stored = readStored();
    var current = stored && stored.v === cfg.version;
    activate(current ? stored : null);
    Array.prototype.forEach.call(document.querySelectorAll("[data-pledge-open]"), function (b) {
      b.addEventListener("click", function () { lastFocus = b; build(true); });
    });
    if (!current) {
      build(false);
      if (gpcApplies()) send("gpc", {}, stored);
    }
  }

  window.PledgeConsent = {
    open: function () { build(true); },
    state: readStored,
    receipt: function () { return receipt; },
    ready: null
  };
  var query = "?jurisdiction=" + encodeURIComponent(jurisdiction) + (lang ? "&lang=" + encodeURIComponent(lang) : "");
  window.PledgeConsent.ready = fetch(base + "/v1/consent/config" + query, { credentials: "include" })
    .then(function (r) { return r.json(); })
    .then(start);
})();

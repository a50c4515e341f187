/* Rapport tracker: page views, product views and cart events from any site, batched and
 * sent with navigator.sendBeacon to the Rapport that serves this file.
 *
 * Embed (one line, before </body>):
 *   <script async src="https://CRM/static/marketing/tracker.js" data-key="pk_…"></script>
 *
 * Privacy: nothing is sent and no cookie is set while the browser says Do-Not-Track (or
 * Global Privacy Control), nor until the site says the visitor consented:
 *   window.rapportConsent = true;            // before the script loads, or
 *   rapport("consent", true);                // later, from the consent banner
 * data-consent="implied" skips the consent wait (only where no consent is required).
 *
 * API:  rapport("product", "SKU-1", {name: "Tea"});   rapport("cart", {items: [...]});
 *       rapport("checkout", {total: "12.50"});        rapport("track", "custom.wishlist", {...});
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var key = script.getAttribute("data-key") || "";
  var endpoint = (script.getAttribute("data-endpoint") ||
    new URL("/api/v1/collect", script.src).href) + "?k=" + encodeURIComponent(key);
  var consentMode = script.getAttribute("data-consent") || "required";
  var COOKIE = "rp_vid";
  var queue = [];
  var timer = null;
  var consented = consentMode === "implied" || window.rapportConsent === true;
  var pending = []; // calls made before consent: replayed once it is given

  function doNotTrack() {
    var dnt = navigator.doNotTrack || window.doNotTrack || navigator.msDoNotTrack;
    return dnt === "1" || dnt === "yes" || navigator.globalPrivacyControl === true;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }

  function visitorId() {
    var match = document.cookie.match(/(?:^|;\s*)rp_vid=([A-Za-z0-9-]{1,64})/);
    if (match) return match[1];
    var id = uuid();
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = COOKIE + "=" + id + "; Max-Age=34128000; Path=/; SameSite=Lax" + secure;
    return id;
  }

  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length) return;
    var body = JSON.stringify({ events: queue.splice(0, 100) });
    // A string body goes as text/plain: no CORS preflight, and the beacon survives unload.
    var sent = navigator.sendBeacon && navigator.sendBeacon(endpoint, body);
    if (!sent && window.fetch) {
      fetch(endpoint, { method: "POST", body: body, keepalive: true, mode: "cors",
        headers: { "Content-Type": "text/plain" } }).catch(function () {});
    }
    if (queue.length) flush();
  }

  function send(type, fields) {
    if (doNotTrack()) return;
    if (!consented) { pending.push([type, fields]); return; }
    var event = {
      idempotency_key: uuid(),
      type: type,
      occurred_at: new Date().toISOString(),
      visitor_id: visitorId(),
      url: location.href.slice(0, 2000),
      properties: (fields && fields.properties) || {}
    };
    if (fields && fields.product_sku) event.product_sku = String(fields.product_sku).slice(0, 100);
    queue.push(event);
    if (queue.length >= 20) flush();
    else if (!timer) timer = setTimeout(flush, 2000);
  }

  var commands = {
    consent: function (given) {
      consented = given === true;
      if (consented) {
        var replay = pending.splice(0);
        for (var i = 0; i < replay.length; i++) send(replay[i][0], replay[i][1]);
      } else {
        pending = []; queue = [];
      }
    },
    page: function (props) { send("page_view", { properties: props }); },
    product: function (sku, props) { send("product_view", { product_sku: sku, properties: props }); },
    cart: function (props) { send("cart_updated", { properties: props }); },
    checkout: function (props) { send("checkout_started", { properties: props }); },
    track: function (type, props) { send(type, { properties: props }); },
    flush: flush
  };

  function rapport(name) {
    var command = commands[name];
    if (command) command.apply(null, Array.prototype.slice.call(arguments, 1));
  }

  // Calls queued by a snippet that defined window.rapport = function(){(q=…).push(arguments)}
  var early = (window.rapport && window.rapport.q) || [];
  window.rapport = rapport;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
  window.addEventListener("pagehide", flush);
  commands.page();
  for (var i = 0; i < early.length; i++) rapport.apply(null, early[i]);
})();

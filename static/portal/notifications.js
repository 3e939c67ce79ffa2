// Live notifications: while a portal page is open, decisions on your requests pop up here, and the
// subscription they are about is refreshed in place.
(function () {
  "use strict";
  var region = document.getElementById("portal-toasts");
  if (!region || !("WebSocket" in window)) return;
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var delay = 1000;

  function show(n) {
    var toast = document.createElement("div");
    toast.className = "toast";
    var title = document.createElement(n.link ? "a" : "strong");
    title.textContent = n.title;
    if (n.link) title.href = n.link;
    toast.appendChild(title);
    if (n.body) {
      var body = document.createElement("div");
      body.className = "small";
      body.textContent = n.body;
      toast.appendChild(body);
    }
    region.appendChild(toast);
  }

  // A notification about a subscription: its row on this page (if shown) reloads itself through htmx
  // (the row listens for "subscription-changed-<id>", see templates/portal/_subscription_row.html).
  function refresh(about) {
    if (!about || !about.subscription || !window.htmx) return;
    htmx.trigger(document.body, "subscription-changed-" + String(parseInt(about.subscription, 10)));
  }

  function connect() {
    var socket = new WebSocket(scheme + location.host + "/ws/portal/notifications/");
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (event) {
      try {
        var data = JSON.parse(event.data);
        if (data.type === "notification") {
          show(data.notification);
          refresh(data.notification.about);
        }
      } catch (e) { /* a pong, or noise */ }
    };
    socket.onclose = function (event) {
      if (event.code === 4401) return; // signed out
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();

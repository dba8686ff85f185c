// Herald's pages, a little livelier: flash messages that can be dismissed, and delivery
// statuses that follow the server over a websocket (app/web/live.py). Every page works
// without this file; it only adds to them.
"use strict";

function wireDismissButtons() {
  for (const button of document.querySelectorAll(".flash .dismiss")) {
    button.hidden = false;
    button.addEventListener("click", () => {
      const flash = button.closest(".flash");
      const list = flash.parentElement;
      flash.remove();
      if (!list.children.length) list.remove();
      document.querySelector("main").focus(); // keyboard users keep their place on the page
    });
  }
}

function showLiveState(name, text) {
  const state = document.querySelector("[data-live-state]");
  if (state) {
    state.dataset.liveState = name;
    state.textContent = text;
  }
}

function follow(container) {
  const ids = Array.from(container.querySelectorAll("[data-live-alert]"), (n) => n.dataset.liveAlert);
  if (!ids.length || !("WebSocket" in window)) return;
  let delay = 1000;
  const connect = () => {
    const url = new URL(container.dataset.liveUrl, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("view", container.dataset.live);
    url.searchParams.set("alerts", ids.join(","));
    const socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      delay = 1000;
      showLiveState("open", "Statuses update live.");
    });
    socket.addEventListener("message", (event) => {
      const update = JSON.parse(event.data);
      const node = container.querySelector(`[data-live-alert="${update.alert}"]`);
      if (!node) return;
      const template = document.createElement("template");
      template.innerHTML = update.html.trim();
      node.replaceWith(template.content);
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 1000) {
        showLiveState("done", "Every alert here is finished.");
      } else if (event.code === 1008) {
        showLiveState("stopped", "Live updates stopped: your session has ended. Log in again.");
      } else {
        showLiveState("reconnecting", "Connection lost; reconnecting…");
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      }
    });
  };
  connect();
}

wireDismissButtons();
document.querySelectorAll("[data-live]").forEach(follow);

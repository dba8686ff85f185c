// "Enable browser notifications" on the dashboard: subscribe this browser to Web Push.
(function () {
  "use strict";
  const button = document.getElementById("enable-push");
  const status = document.getElementById("push-status");
  if (!button || !status) {
    return;
  }
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    status.textContent = "This browser cannot receive push notifications.";
    button.disabled = true;
    return;
  }
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

  function keyBytes(base64url) {
    const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  async function enable() {
    if ((await Notification.requestPermission()) !== "granted") {
      throw new Error("Notifications were not allowed for this site.");
    }
    const keyResponse = await fetch("/api/push/vapid-public-key", { credentials: "same-origin" });
    if (!keyResponse.ok) {
      throw new Error((await keyResponse.json()).message);
    }
    const { public_key: publicKey } = await keyResponse.json();
    const registration = await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(publicKey),
    });
    const saved = await fetch("/api/push/subscriptions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
      body: JSON.stringify(subscription.toJSON()),
    });
    if (!saved.ok) {
      throw new Error((await saved.json()).message);
    }
  }

  button.addEventListener("click", () => {
    button.disabled = true;
    status.textContent = "Asking this browser…";
    enable()
      .then(() => { status.textContent = "Browser notifications are on."; })
      .catch((error) => { status.textContent = error.message; button.disabled = false; });
  });
})();

// Herald's service worker: shows each pushed alert and opens it when clicked.
self.addEventListener("push", (event) => {
  const alert = event.data ? event.data.json() : { title: "Herald", body: "" };
  event.waitUntil(
    self.registration.showNotification(alert.title, {
      body: alert.body,
      tag: "herald-alert-" + alert.alert_id,
      data: { url: alert.url || "/" },
      requireInteraction: alert.severity === "critical",
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});

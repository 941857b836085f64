// Fila's service worker. It is here only so that the ticket page can show a system
// notification ("you're almost up", "it's your turn") while the phone is in a pocket:
// Android's Chrome shows a page's notifications only through a service worker. It has no
// fetch handler, so pages and files load exactly as they would without it.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// Tapping the notification brings the ticket's page back, or opens it.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const path = typeof event.notification.data === 'string' ? event.notification.data : '/';
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const page = open.find((c) => new URL(c.url).pathname === path);
    if (page) return page.focus();
    return self.clients.openWindow(path);
  })());
});

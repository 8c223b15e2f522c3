// Injected by tests/e2e/browser.py into every page before its own scripts run
// (Page.addScriptToEvaluateOnNewDocument): janus.js is handed only the 127.0.0.1 UDP ICE
// candidates, so the tests' media stays on loopback whatever Chromium gathers (lo_bind.c
// already keeps it off the other interfaces). The product pages themselves filter nothing.
//
// A listener added in the constructor runs before the one janus.js installs through
// onicecandidate (listeners run in the order they were added), so stopping the event there
// hides a candidate from janus.js and from adapter.js's wrappers alike.
'use strict';

(function () {
  const Native = window.RTCPeerConnection;
  if (!Native || Native.jmediaLoopbackOnly) return;
  class LoopbackPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      EventTarget.prototype.addEventListener.call(this, 'icecandidate', (event) => {
        const c = event.candidate;
        if (c && c.candidate && !(c.address === '127.0.0.1' && c.protocol === 'udp')) {
          event.stopImmediatePropagation();
        }
      });
    }
  }
  LoopbackPeerConnection.jmediaLoopbackOnly = true;
  window.RTCPeerConnection = LoopbackPeerConnection;
})();

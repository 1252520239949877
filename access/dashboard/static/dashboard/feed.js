// The live feed: follows /api/stream/ and inserts the server-rendered fragment of each new event or alert.
"use strict";

(function () {
  const events = document.getElementById("events");
  const alerts = document.getElementById("alerts");
  const streamStatus = document.getElementById("stream-status");
  const csrfToken = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  let audio = null;

  function fragmentUrl(template, id) {
    return template.replace("/0/", "/" + id + "/");
  }

  async function fetchFragment(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.redirected) {
      // Sent to the sign-in page: the session has ended. Its page is no fragment to put in the feed.
      setStreamStatus("signed-out", "Signed out: reload the page to sign in again");
      throw new Error(url + " was redirected to " + response.url);
    }
    if (!response.ok) {
      throw new Error(url + " answered " + response.status);
    }
    const holder = document.createElement("template");
    holder.innerHTML = (await response.text()).trim();
    return holder.content.firstElementChild;
  }

  async function showEvent(id) {
    if (events.querySelector('[data-event-id="' + id + '"]')) {
      return; // rendered with the page, or streamed again after a reconnect
    }
    const row = await fetchFragment(fragmentUrl(events.dataset.eventRowUrl, id));
    const empty = events.querySelector(".empty");
    if (empty) {
      empty.remove();
    }
    row.classList.add("fresh");
    events.prepend(row);
    // A guard's page stays open for days: keep as many rows as the page was rendered with.
    while (events.children.length > Number(events.dataset.feedLength)) {
      events.lastElementChild.remove();
    }
  }

  async function showAlert(id) {
    const banner = await fetchFragment(fragmentUrl(events.dataset.alertBannerUrl, id));
    const shown = alerts.querySelector('[data-alert-id="' + id + '"]');
    if (shown && banner && shown.dataset.state === banner.dataset.state) {
      return; // the click and the stream both report a change: keep the banner and the note being typed
    }
    if (shown && banner) {
      const note = shown.querySelector("input.note");
      if (note && banner.querySelector("input.note")) {
        banner.querySelector("input.note").value = note.value;
      }
      shown.replaceWith(banner);
    } else if (shown) {
      shown.remove(); // resolved: its fragment is empty
    } else if (banner) {
      alerts.prepend(banner);
    }
  }

  // A short two-tone beep made by WebAudio: nothing to download.
  function beep() {
    audio = audio || new AudioContext();
    audio.resume();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "square";
    oscillator.frequency.setValueAtTime(880, audio.currentTime);
    oscillator.frequency.setValueAtTime(660, audio.currentTime + 0.15);
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.3);
    document.body.dataset.alertSounds = String(Number(document.body.dataset.alertSounds || 0) + 1);
  }

  function setStreamStatus(state, text) {
    streamStatus.dataset.state = state;
    streamStatus.textContent = text;
  }

  const stream = new EventSource(events.dataset.streamUrl);
  stream.onopen = () => setStreamStatus("live", "Live");
  stream.onerror = () => {
    if (streamStatus.dataset.state === "signed-out") {
      stream.close();
    } else if (stream.readyState === EventSource.CLOSED) {
      setStreamStatus("closed", "Disconnected: reload the page");
    } else {
      setStreamStatus("connecting", "Reconnecting…");
    }
  };
  stream.addEventListener("event", (message) => {
    showEvent(JSON.parse(message.data).id).catch(console.error);
  });
  stream.addEventListener("alert", (message) => {
    const alert = JSON.parse(message.data);
    // The sound goes with a banner on the page: none for an alert this account may not see.
    showAlert(alert.id)
      .then(() => {
        if (alert.change === "created") beep();
      })
      .catch(console.error);
  });

  alerts.addEventListener("click", async (click) => {
    const button = click.target.closest("button[data-action]");
    if (!button) {
      return;
    }
    const banner = button.closest("[data-alert-id]");
    const note = banner.querySelector("input.note");
    button.disabled = true;
    try {
      const response = await fetch(button.dataset.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify(button.classList.contains("resolve") ? { note: note.value } : {}),
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        window.alert("The alert could not be updated: " + (problem.detail || response.status));
      }
      // The stream also reports the change; refreshing now answers the click at once.
      await showAlert(banner.dataset.alertId);
    } catch (error) {
      window.alert("The alert could not be updated: the server did not answer (" + error.message + ")");
    } finally {
      button.disabled = false; // the button can be pressed again when the banner it sits in stays
    }
  });
})();

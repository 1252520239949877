// The person page: photos from the webcam, and samples followed until the workers have decided on them.
"use strict";

// getUserMedia -> <video> -> canvas -> JPEG, put into the upload form's file field and submitted: a webcam
// photo takes exactly the path of an uploaded one.
(function webcam() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const panel = document.getElementById("webcam");
  const video = document.getElementById("webcam-video");
  const take = document.getElementById("webcam-take");
  const status = document.getElementById("webcam-status");
  let stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    panel.hidden = true;
    take.disabled = true;
  }

  document.getElementById("webcam-start").addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = "This browser cannot use a camera here (it needs HTTPS or localhost).";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 } }, audio: false });
    } catch (error) {
      status.textContent = `The camera could not be opened: ${error.message || error.name}`;
      return;
    }
    video.srcObject = stream;
    panel.hidden = false;
    status.textContent = "Look straight at the camera, then take the photo.";
    await video.play();
    take.disabled = false;
  });

  document.getElementById("webcam-stop").addEventListener("click", () => {
    stop();
    status.textContent = "";
  });

  take.addEventListener("click", () => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    take.disabled = true;
    canvas.toBlob((blob) => {
      stop();
      const photos = new DataTransfer();
      photos.items.add(new File([blob], "webcam.jpg", { type: "image/jpeg" }));
      form.querySelector('input[type="file"]').files = photos.files;
      status.textContent = "Uploading…";
      form.requestSubmit();
    }, "image/jpeg", 0.92);
  });
})();

// A pending sample's card is fetched again until the enrollment worker has enrolled or rejected it: soon
// at first (a warm worker answers within a second or two), then less and less often, so a page left open on
// a queue that is not moving does not keep asking every second.
(function followPendingSamples() {
  const FIRST_WAIT_MS = 1000;
  const BACK_OFF = 1.5;
  const LONGEST_WAIT_MS = 8000;

  async function check(card) {
    const response = await fetch(card.dataset.cardUrl, { credentials: "same-origin" });
    if (response.status === 404) {
      card.remove();  // erased meanwhile
      return true;
    }
    if (!response.ok || response.redirected) return false;  // a passing error, or signed out: the page stays
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    if (!fresh || !fresh.matches(".sample") || fresh.dataset.state === "pending") return false;
    card.replaceWith(fresh);
    return true;
  }

  function follow(card, wait = FIRST_WAIT_MS) {
    setTimeout(async () => {
      const decided = await check(card).catch(() => false);  // offline for a moment: try again later
      if (!decided) follow(card, Math.min(wait * BACK_OFF, LONGEST_WAIT_MS));
    }, wait);
  }

  document.querySelectorAll('.sample[data-state="pending"]').forEach((card) => follow(card));
})();

// Act on a case: where the phone is (navigator.geolocation) goes with every action as a GeoJSON point, when the
// browser gives it; a form is sent once (the button is disabled while it goes).
(function () {
  "use strict";

  const box = document.getElementById("actions");
  if (!box) return;
  const forms = box.querySelectorAll("form.act-form");
  const statuses = box.querySelectorAll(".gps");

  function say(text, ok) {
    statuses.forEach((element) => {
      element.textContent = text;
      element.classList.toggle("ok", !!ok);
    });
  }

  function setPosition(position) {
    const point = JSON.stringify({ type: "Point",
      coordinates: [position.coords.longitude, position.coords.latitude] });
    box.querySelectorAll("input.gps-location").forEach((input) => { input.value = point; });
    say(box.dataset.located, true);
  }

  if (navigator.geolocation) {
    say(box.dataset.locating, false);
    navigator.geolocation.getCurrentPosition(setPosition, () => say(box.dataset.none, false),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  } else {
    say(box.dataset.none, false);
  }

  forms.forEach((form) => {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      // Disabled after this tick, so the browser still sends the form.
      if (button) setTimeout(() => { button.disabled = true; }, 0);
    });
  });
})();

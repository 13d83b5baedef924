// A visit on a phone: the result of the call decides whether the form is asked; the member group grows and shrinks
// by blocks; skip logic (skiplogic.js, the rules of forms.py) shows and hides questions as they are answered, and a
// hidden question is disabled so its answer is not sent (the server drops it too); the phone's GPS goes with the
// visit when it gives a position. The server checks everything again and answers with errors by path.
(function () {
  "use strict";

  const form = document.getElementById("visit-form");
  if (!form) return;
  const config = JSON.parse(document.getElementById("visit-config").textContent);
  const t = config.strings;
  const answers = document.getElementById("answers");
  const revisit = document.getElementById("revisit");
  const logic = window.wanggeSkipLogic;

  // --- reading answers as forms.py cleans them ----------------------------------------------------------------------
  function inputsOf(question) {
    const path = question.dataset.path;
    return [...question.querySelectorAll("input, select, textarea")].filter((input) => input.name === path);
  }

  function valueOf(question) {
    const type = question.dataset.type;
    const inputs = inputsOf(question);
    if (type === "select_multiple") {
      const chosen = inputs.filter((input) => input.checked).map((input) => input.value);
      return chosen.length ? chosen : null;
    }
    if (type === "select_one" || type === "yes_no") {
      const checked = inputs.find((input) => input.checked);
      return checked ? checked.value : null;
    }
    const input = inputs[0];
    if (!input) return null;
    if (type === "photo") return input.files && input.files.length ? input.files[0].name : null;
    const raw = input.value.trim();
    if (!raw) return null;
    if (type === "integer") {
      const number = Number(raw);
      return Number.isInteger(number) ? new logic.Num(String(number)) : null;
    }
    if (type === "decimal") return Number.isFinite(Number(raw)) ? new logic.Num(raw).text : null;
    if (type === "geopoint") return raw.split(/\s+/);
    return raw;
  }

  // --- skip logic and required marks --------------------------------------------------------------------------------
  function setEnabled(question, enabled) {
    const own = question.dataset.type === "repeat"
      ? [...question.querySelectorAll("input, select, textarea, button")]
      : inputsOf(question).concat([...question.querySelectorAll("button")]);
    for (const input of own) {
      if (!enabled) input.disabled = true;
      else if (question.dataset.type !== "repeat") input.disabled = false;
    }
  }

  function setRequired(question, required) {
    const type = question.dataset.type;
    if (type === "repeat" || type === "select_multiple" || type === "photo") return;
    const inputs = inputsOf(question);
    inputs.forEach((input, i) => {
      // One required radio makes the group required.
      input.required = required && (input.type !== "radio" || i === 0);
    });
  }

  function refresh() {
    const status = form.querySelector("input[name=status]:checked");
    const asking = !status || status.value === "visited";
    answers.hidden = !asking;
    revisit.hidden = !(status && status.value === "revisit");
    revisit.querySelector("input").disabled = revisit.hidden;
    revisit.querySelector("input").required = !revisit.hidden; // the service asks when to call again
    const top = {};
    const rows = new Map();
    for (const question of answers.querySelectorAll(".q")) {
      const block = question.closest(".repeat-block");
      let values = top;
      let siblings = null;
      if (block) {
        if (!rows.has(block)) {
          rows.set(block, { values: {}, names: new Set([...block.querySelectorAll(":scope > .q")]
            .map((q) => q.dataset.name)) });
        }
        ({ values, names: siblings } = rows.get(block));
      }
      const parent = question.parentElement.closest(".q");
      let visible = asking && !(parent && parent.dataset.shown === "0");
      if (visible && question.dataset.relevant) {
        visible = logic.shown(question.dataset.relevant, (name) => {
          if (siblings && siblings.has(name)) return name in values ? values[name] : null;
          return name in top ? top[name] : null;
        });
      }
      question.dataset.shown = visible ? "1" : "0";
      question.hidden = !visible;
      if (question.dataset.type === "repeat") {
        if (!visible) setEnabled(question, false);
        else question.querySelectorAll(":scope > .add-member, .repeat-block > input[type=hidden], "
          + ".repeat-block > .remove-member").forEach((input) => { input.disabled = false; });
        continue;
      }
      setEnabled(question, visible);
      setRequired(question, visible && question.dataset.required === "1");
      if (visible) {
        const value = valueOf(question);
        if (value !== null) values[question.dataset.name] = value;
      }
    }
    for (const group of answers.querySelectorAll(".repeat-blocks")) {
      const blocks = group.querySelectorAll(":scope > .repeat-block");
      blocks.forEach((block) => { block.querySelector(":scope > .remove-member").hidden = blocks.length < 2; });
    }
  }

  // --- the member group -----------------------------------------------------------------------------------------
  const ATTRIBUTES = ["name", "id", "for", "data-path", "data-error-for"];

  function renumber(container) {
    const group = container.dataset.group;
    container.querySelectorAll(":scope > .repeat-block").forEach((block, position) => {
      const old = block.dataset.index;
      if (old !== String(position)) {
        const from = `${group}[${old}]`;
        const to = `${group}[${position}]`;
        for (const element of [block, ...block.querySelectorAll("*")]) {
          for (const attribute of ATTRIBUTES) {
            const value = element.getAttribute(attribute);
            if (value && value.includes(from)) element.setAttribute(attribute, value.split(from).join(to));
          }
        }
        block.dataset.index = String(position);
      }
      block.querySelector(".member-title").textContent = t.member.replace("%(number)s", String(position + 1));
    });
  }

  answers.addEventListener("click", (event) => {
    const add = event.target.closest(".add-member");
    if (add) {
      const group = add.dataset.group;
      const container = answers.querySelector(`.repeat-blocks[data-group="${group}"]`);
      const template = answers.querySelector(`template.repeat-template[data-group="${group}"]`);
      const index = container.querySelectorAll(":scope > .repeat-block").length;
      const html = template.innerHTML.split("__i__").join(String(index)).split("__n__").join(String(index + 1));
      container.insertAdjacentHTML("beforeend", html);
      renumber(container);
      refresh();
      const added = container.lastElementChild;
      added.scrollIntoView({ block: "start" });
      const first = added.querySelector("input:not([type=hidden])");
      if (first) first.focus();
      return;
    }
    const remove = event.target.closest(".remove-member");
    if (remove) {
      const block = remove.closest(".repeat-block");
      const container = block.parentElement;
      block.remove();
      renumber(container);
      refresh();
      return;
    }
    const locate = event.target.closest(".use-position");
    if (locate) {
      const input = locate.parentElement.querySelector("input");
      position((coords) => { input.value = `${coords.latitude.toFixed(6)} ${coords.longitude.toFixed(6)}`; refresh(); });
    }
  });
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);

  // --- GPS --------------------------------------------------------------------------------------------------------
  const status = document.getElementById("gps-status");
  const location = document.getElementById("visit-location");

  function position(done, failed) {
    if (!navigator.geolocation) {
      if (failed) failed(t.unsupported);
      return;
    }
    navigator.geolocation.getCurrentPosition((found) => done(found.coords),
      () => { if (failed) failed(t.denied); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function say(text, ok) {
    status.textContent = text;
    status.classList.toggle("ok", !!ok);
  }

  if (location.value) {
    say(t.located, true);
  } else {
    say(t.locating);
    position((coords) => {
      location.value = JSON.stringify({ type: "Point", coordinates: [coords.longitude, coords.latitude] });
      say(`${t.located} (${t.accuracy.replace("%(metres)s", String(Math.round(coords.accuracy)))})`, true);
    }, (message) => say(message));
  }

  refresh();
  // The first field with an error comes into view, so a worker sees at once what to fix.
  const wrong = form.querySelector(".has-error");
  if (wrong) wrong.scrollIntoView({ block: "center" });
})();

// Live robot status: the server pushes every change (server-sent events); no library.
(function () {
  const script = document.currentScript;
  const words = script.dataset;  // idle, stopped, ready, paused: in the page's language
  const source = new EventSource("/robots/events");
  source.onmessage = function (event) {
    for (const robot of JSON.parse(event.data)) {
      const box = document.querySelector('[data-robot="' + robot.robot_id + '"]');
      if (!box) continue;
      const set = (name, text) => { const el = box.querySelector('[data-field="' + name + '"]'); if (el) el.textContent = text; };
      const [x, y, z] = robot.position_mm;
      set("position", "X " + x + " · Y " + y + " · Z " + z + " mm");
      set("job", robot.job || words.idle);
      set("estopped", robot.estopped ? words.stopped : words.ready);
      box.querySelector('[data-field="estopped"]').className = robot.estopped ? "error" : "";
      set("pins", Object.keys(robot.pins).join(", ") || "—");
      set("log", robot.log.join("\n"));
      if (robot.network) {
        set("heard", robot.updated_at.slice(0, 19).replace("T", " "));
        set("paused", robot.paused ? words.paused + ": " + robot.paused : "");
      }
    }
  };
  // The e-stop must never wait for a page load: send it in the background, at once.
  for (const form of document.querySelectorAll(".estop-form")) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
    });
  }
})();

/* The import page's upload: the file goes as the request's body, so the server writes it to
   disk as it arrives and can stop it at the size limit; the bar shows the bytes sent. */
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function start(form) {
    var input = form.querySelector("#import-file");
    var kind = form.querySelector("#import-kind");
    var error = document.getElementById("upload-error");
    var bar = document.getElementById("upload-bar");
    var file = input.files && input.files[0];
    error.textContent = "";
    if (!file) { error.textContent = form.getAttribute("data-no-file"); return; }
    var limit = Number(form.getAttribute("data-max-bytes"));
    if (limit && file.size > limit) { error.textContent = form.getAttribute("data-too-large"); return; }
    var url = "/imports/upload?name=" + encodeURIComponent(file.name) +
      "&kind=" + encodeURIComponent(kind.value);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    bar.hidden = false;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    };
    xhr.onload = function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = {}; }
      if (xhr.status === 201 && answer.next) { window.location.assign(answer.next); return; }
      bar.hidden = true;
      error.textContent = answer.error || form.getAttribute("data-failed");
    };
    xhr.onerror = function () { bar.hidden = true; error.textContent = form.getAttribute("data-failed"); };
    xhr.send(file);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.id === "upload-form") {
      event.preventDefault();
      start(form);
    }
  });
})();

// Consentry web app: progressive enhancement only. Every form works without this file; with it,
// uploads show a progress bar per file (XMLHttpRequest upload progress) and then the job's progress
// (polling the JSON API), job pages update in place, and the terms forms hide fields that do not apply.
"use strict";

(function () {
  var POLL_MS = 1000;
  var PARALLEL_UPLOADS = 3;

  function announce(text, isError) {
    var live = document.getElementById("status");
    if (!live) return;
    live.textContent = text;
    live.classList.toggle("error", !!isError);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function detailOf(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && typeof body.detail === "string") return body.detail;
    } catch (e) { /* not JSON */ }
    return "the server answered " + xhr.status;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.detail ? body.detail : "the server answered " + r.status);
        return body;
      });
    });
  }

  // ------------------------------------------------------------------ job polling
  function pollJob(jobId, onUpdate) {
    return new Promise(function (resolve, reject) {
      function tick() {
        getJSON("/api/v1/jobs/" + encodeURIComponent(jobId)).then(function (job) {
          onUpdate(job);
          if (job.status === "succeeded" || job.status === "failed") resolve(job);
          else setTimeout(tick, POLL_MS);
        }, reject);
      }
      tick();
    });
  }

  function jobLinks(job, kind) {
    var links = [];
    var result = job.result || {};
    if (kind === "works") {
      (result.works || []).forEach(function (w) { links.push(["/app/works/" + w.work_id, w.title]); });
      (result.duplicates || []).forEach(function (d) {
        if (d.work_id) links.push(["/app/works/" + d.work_id, "the registered work" + (d.title ? " " + d.title : "")]);
      });
      (result.claims || []).forEach(function (c) { links.push(["/app/claims/" + c.claim_id, "claim " + c.claim_id + " opened"]); });
    } else if (kind === "scan" && result.scan_id) {
      links.push(["/app/scans/" + result.scan_id, "see the scan's findings"]);
    }
    links.push(["/app/jobs/" + job.job_id, "details"]);
    return links;
  }

  // ------------------------------------------------------------------ uploads with progress
  // How many of a finished job's uploaded files failed (docs/server.md, "Job outcomes"): all of them when the job
  // failed; else the files its result names as failed (works and voices: one per file; a scan's failed items are
  // inside its one dataset, reported with the scan).
  function failedFiles(job, files, kind) {
    if (job.status === "failed") return files.length;
    if (kind !== "works" && kind !== "voice") return 0;
    return Math.min(files.length, (job.result && job.result.failed) || 0);
  }

  // Resolves with {ok: files done, failed: files failed}.
  function uploadOne(form, files, row, kind) {
    var field = form.getAttribute("data-field");
    var url = form.getAttribute("data-upload");
    var data = new FormData();
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.type === "file" || input.type === "submit" || input.disabled) return;
      if ((input.type === "checkbox" || input.type === "radio") && !input.checked) return;
      data.append(input.name, input.value);
    });
    files.forEach(function (f) { data.append(field, f, f.name); });
    var csrf = form.querySelector("input[name=csrf_token]");
    var bar = row.querySelector("progress");
    var status = row.querySelector(".state");
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf.value);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.max = e.total;
          bar.value = e.loaded;
          status.textContent = "uploading " + Math.round(100 * e.loaded / e.total) + "%";
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status !== 202) {
          status.textContent = "refused: " + detailOf(xhr);
          row.classList.add("error");
          bar.max = 1;
          bar.value = 1;
          bar.setAttribute("aria-label", files[0].name + ": refused");
          announce(files[0].name + ": " + detailOf(xhr), true);
          resolve({ ok: 0, failed: files.length });
          return;
        }
        var job = JSON.parse(xhr.responseText);
        status.textContent = "uploaded; " + job.kind + " " + job.status;
        bar.removeAttribute("value");
        pollJob(job.job_id, function (j) {
          status.textContent = j.kind + " " + j.status + (j.total ? " (" + j.done + " of " + j.total + ")" : "");
          if (j.total) { bar.max = j.total; bar.value = j.done; }
        }).then(function (done) {
          bar.max = 1;
          bar.value = 1;
          var errors = (done.result && done.result.errors) || [];
          var failed = failedFiles(done, files, kind);
          if (done.status === "failed" || failed) {
            row.classList.add("error");
            var why = done.error || errors.map(function (e) { return e.error; }).join("; ");
            var part = done.status === "failed" ? "failed: " : (files.length - failed) + " done, " + failed + " failed: ";
            status.textContent = part + why;
            announce(files[0].name + ": " + why, true);
          } else {
            row.classList.add("ok");
            var dups = (done.result && done.result.duplicates) || [];
            var fresh = ((done.result && done.result.works) || []).filter(function (w) { return !w.already_registered; });
            status.textContent = kind === "works" ? (!fresh.length && (dups.length || (done.result.works || []).length)
              ? "already registered" : "registered") : "done";
            // a scan whose dataset had items it could not read: done, and says so (the job and report list them)
            if (errors.length) status.textContent += " (" + (done.result.failed || errors.length) + " item(s) could not be checked)";
          }
          jobLinks(done, kind).forEach(function (l) {
            row.appendChild(document.createTextNode(" "));
            row.appendChild(el("a", { href: l[0] }, l[1]));
          });
          resolve({ ok: files.length - failed, failed: failed });
        }, function (err) {
          status.textContent = "could not follow the job: " + err.message;
          resolve({ ok: 0, failed: files.length });
        });
      });
      xhr.addEventListener("error", function () {
        status.textContent = "the upload was interrupted";
        row.classList.add("error");
        resolve({ ok: 0, failed: files.length });
      });
      xhr.send(data);
    });
  }

  function enhanceUpload(form) {
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector(".file-progress");
    var zone = form.querySelector(".dropzone");
    var kind = form.getAttribute("data-kind");
    var dropped = null;

    if (zone) {
      ["dragenter", "dragover"].forEach(function (ev) {
        zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (ev) {
        zone.addEventListener(ev, function () { zone.classList.remove("over"); });
      });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        var files = e.dataTransfer && e.dataTransfer.files;
        if (!files || !files.length) return;
        try { input.files = files; dropped = null; } catch (err) { dropped = Array.prototype.slice.call(files); }
        announce(files.length + " file(s) ready: press the button to upload", false);
      });
    }

    var terms = form.querySelector("select[name=terms]");
    if (terms) {
      var licenceRows = form.querySelectorAll(".licence-only");
      var showLicence = function () {
        Array.prototype.forEach.call(licenceRows, function (r) { r.hidden = terms.value !== "license"; });
      };
      terms.addEventListener("change", showLicence);
      showLicence();
    }

    // What the server would refuse, said before anything is sent: too many files, too large a file, a licence
    // without a price.
    function refusal(files) {
      var maxBytes = Number(form.getAttribute("data-max-bytes") || 0);
      var maxFiles = Number(form.getAttribute("data-max-files") || 0);
      var maxSize = form.getAttribute("data-max-size") || "";
      if (maxFiles && files.length > maxFiles) return maxFiles === 1 ? "choose one file" : "choose at most " + maxFiles + " files at once";
      var big = files.filter(function (f) { return maxBytes && f.size > maxBytes; });
      if (big.length) return big.map(function (f) { return f.name; }).join(", ") + ": larger than the " + maxSize + " this server accepts per file; send a smaller or shorter file";
      var empty = files.filter(function (f) { return f.size === 0; });
      if (empty.length) return empty.map(function (f) { return f.name; }).join(", ") + ": the file is empty";
      var price = form.querySelector("input[name=price]");
      if (terms && terms.value === "license" && price && !price.value.trim()) {
        price.focus();
        return "a licence needs a price: give the price (0 or more) and its currency, or choose deny or allow";
      }
      return null;
    }

    form.addEventListener("submit", function (e) {
      var files = dropped || Array.prototype.slice.call(input.files || []);
      if (!files.length) return; // the browser's own validation says what is missing
      e.preventDefault();
      var why = refusal(files);
      if (why) {
        var row = el("li", { "class": "error" });
        row.appendChild(el("span", { "class": "state" }, "not sent: " + why));
        list.appendChild(row);
        announce(why, true);
        return;
      }
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      // works and voices: one request per file (a progress bar each); a dataset or an output: one request
      var groups = (kind === "works") ? files.map(function (f) { return [f]; }) : [files];
      var queue = groups.map(function (group) {
        var row = el("li", {});
        var label = group.map(function (f) { return f.name; }).join(", ");
        var id = "up-" + Math.random().toString(36).slice(2);
        row.appendChild(el("label", { "for": id }, label + " "));
        row.appendChild(el("progress", { id: id, max: "1", value: "0" }));
        row.appendChild(el("span", { "class": "state", "aria-live": "polite" }, " waiting"));
        list.appendChild(row);
        return { group: group, row: row };
      });
      announce("uploading " + files.length + " file(s)…", false);
      var ok = 0, failed = 0, next = 0;
      function startNext() {
        if (next >= queue.length) return Promise.resolve();
        var job = queue[next++];
        return uploadOne(form, job.group, job.row, kind).then(function (counts) {
          ok += counts.ok;
          failed += counts.failed;
          return startNext();
        });
      }
      var workers = [];
      for (var i = 0; i < Math.min(PARALLEL_UPLOADS, queue.length); i++) workers.push(startNext());
      Promise.all(workers).then(function () {
        button.disabled = false;
        input.value = "";
        dropped = null;
        announce(ok + " done" + (failed ? ", " + failed + " failed (see the list)" : ""), failed > 0);
      });
    });
  }

  // ------------------------------------------------------------------ a job page updates itself
  function enhanceJob(box) {
    var status = box.getAttribute("data-status");
    if (status !== "queued" && status !== "running") return;
    var bar = box.querySelector("progress");
    var text = box.querySelector(".job-status");
    var count = box.querySelector(".job-count");
    pollJob(box.getAttribute("data-job"), function (j) {
      text.textContent = j.status;
      if (j.total) { bar.max = j.total; bar.value = j.done; count.textContent = j.done + " of " + j.total; }
    }).then(function () { window.location.reload(); }, function (err) { announce(err.message, true); });
  }

  // ------------------------------------------------------------------ terms forms: licence fields only for "license"
  function enhanceTerms(form) {
    Array.prototype.forEach.call(form.querySelectorAll("fieldset.use"), function (fs) {
      var select = fs.querySelector(".decision-select");
      var extra = fs.querySelector(".licence-fields");
      function update() { extra.hidden = select.value !== "license"; }
      select.addEventListener("change", update);
      update();
    });
  }

  function enhanceSignup(form) {
    var creatorRow = form.querySelector(".creator-only");
    if (!creatorRow) return;
    function update() {
      var role = form.querySelector("input[name=role]:checked");
      creatorRow.hidden = !!role && role.value !== "creator";
    }
    Array.prototype.forEach.call(form.querySelectorAll("input[name=role]"), function (r) { r.addEventListener("change", update); });
    update();
  }

  // ------------------------------------------------------------------ dates in the reader's own time zone
  function localTimes() {
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      var local = d.toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
      var ago = t.getAttribute("data-ago");
      t.textContent = ago ? ago + " · " + local : local;
      t.title = d.toString();
    });
  }

  // ------------------------------------------------------------------ stacked table rows (phones) keep field names
  function labelCells(table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
    if (!heads.length) return;
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
      Array.prototype.forEach.call(tr.children, function (cell, i) {
        if (cell.tagName === "TD" && !cell.hasAttribute("data-label") && heads[i]) cell.setAttribute("data-label", heads[i]);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    Array.prototype.forEach.call(document.querySelectorAll("table"), labelCells);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-upload]"), enhanceUpload);
    Array.prototype.forEach.call(document.querySelectorAll("[data-job]"), enhanceJob);
    Array.prototype.forEach.call(document.querySelectorAll("form.terms-form"), enhanceTerms);
    Array.prototype.forEach.call(document.querySelectorAll("form[action='/app/signup']"), enhanceSignup);
  });
})();

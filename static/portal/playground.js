// The playground's page behaviour: send a message and show the answer as it streams, stop it,
// compare models side by side. The server renders every answer as sanitised HTML (model output
// is never inserted as markup it did not clean), so this file only moves fragments into place.
(function () {
  "use strict";

  // --- server-sent events over fetch (EventSource cannot POST) -----------------------------------
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }

  function csrfToken(form) {
    const input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, form, body, signal) {
    return fetch(url, {
      method: "POST", body: body, signal: signal, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), "Accept": "text/event-stream" },
    });
  }

  async function errorOf(response) {
    try {
      const data = await response.json();
      return data.error || ("Error " + response.status);
    } catch (e) {
      return "Error " + response.status;
    }
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // The answer grows at the bottom of the page, above the composer that stays at the bottom of the
  // window (playground.css): follow it only while the reader is at the bottom, so someone who
  // scrolled up to read is not pulled down, and never move the composer (Stop stays under the pointer).
  function atBottom() {
    const page = document.documentElement;
    return window.innerHeight + window.scrollY >= page.scrollHeight - 48;
  }

  function toBottom() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function activate(node) {
    if (window.htmx && node) window.htmx.process(node);
  }

  function showError(element, message) {
    element.textContent = message;
    element.hidden = !message;
  }

  function turn(kind, who) {
    const article = document.createElement("article");
    article.className = "turn " + kind;
    const header = document.createElement("header");
    header.className = "turn-who";
    header.textContent = who;
    const text = document.createElement("div");
    text.className = "turn-text" + (kind === "turn-model" ? " markdown" : "");
    article.append(header, text);
    return article;
  }

  // Replace parts of this page with the same parts of a fresh copy of `url` (after a stop, the
  // saved answer with its figures comes from the server, as a reload would show it).
  async function refreshFrom(url, selectors) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const selector of selectors) {
      const mine = document.querySelector(selector);
      const theirs = fresh.querySelector(selector);
      if (mine && theirs) {
        mine.replaceWith(theirs);
        activate(theirs);
      }
    }
  }

  // --- chat ---------------------------------------------------------------------------------------
  function setUpChat(form) {
    const transcript = document.getElementById("transcript");
    const content = document.getElementById("chat-content");
    const send = document.getElementById("send-button");
    const stop = document.getElementById("stop-button");
    const error = document.getElementById("chat-error");
    let controller = null;
    let conversationUrl = window.location.pathname.includes("/c/") ? window.location.pathname : null;

    content.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    stop.addEventListener("click", function () {
      if (controller) controller.abort();
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (controller) return;
      const text = content.value.trim();
      if (!text) return;
      showError(error, "");
      const body = new FormData(form);
      const prompt = turn("turn-user", "You");
      prompt.querySelector(".turn-text").textContent = text;
      const answer = turn("turn-model", body.get("alias"));
      answer.classList.add("streaming");
      answer.setAttribute("aria-busy", "true");
      transcript.append(prompt, answer);
      toBottom();
      content.value = "";
      controller = new AbortController();
      send.disabled = true;
      stop.hidden = false;
      let finished = false;
      const startedNew = !conversationUrl;
      try {
        const response = await post(form.action, form, body, controller.signal);
        if (!response.ok) {
          prompt.remove();
          answer.remove();
          content.value = text;
          showError(error, await errorOf(response));
          return;
        }
        await readEvents(response, function (name, data) {
          if (name === "conversation") {
            conversationUrl = data.url;
            form.action = data.url + "send";
            window.history.replaceState({}, "", data.url);
            const list = document.getElementById("conversation-list");
            const empty = document.getElementById("no-conversations");
            if (empty) empty.remove();
            const item = document.createElement("li");
            const link = document.createElement("a");
            link.href = data.url;
            link.textContent = data.title;
            link.setAttribute("aria-current", "page");
            item.append(link);
            list.prepend(item);
          } else if (name === "delta") {
            const following = atBottom();
            answer.querySelector(".turn-text").innerHTML = data.html;
            if (following) toBottom();
          } else if (name === "done") {
            finished = true;
            const saved = fragment(data.html);
            answer.replaceWith(saved);
            activate(saved);
          }
        });
        if (startedNew && conversationUrl) refreshFrom(conversationUrl, [".chat-head"]);  // rename, delete
      } catch (e) {
        if (e.name !== "AbortError") showError(error, "The connection was lost: " + e.message);
      } finally {
        controller = null;
        send.disabled = false;
        stop.hidden = true;
        content.focus();
        if (!finished && conversationUrl && answer.isConnected) {
          // Stopped or cut off: the server kept the answer as far as it got; show that copy.
          answer.classList.add("stopped");
          answer.removeAttribute("aria-busy");
          window.setTimeout(function () { refreshFrom(conversationUrl, ["#transcript"]); }, 400);
        }
      }
    });
  }

  // --- compare ------------------------------------------------------------------------------------
  function setUpCompare(form) {
    const results = document.getElementById("compare-results");
    const button = document.getElementById("compare-button");
    const stop = document.getElementById("compare-stop");
    const error = document.getElementById("compare-error");
    let controller = null;

    stop.addEventListener("click", function () {
      if (controller) controller.abort();
    });

    async function streamSlot(slot, column, signal) {
      const response = await post(slot.stream, form, new FormData(), signal);
      if (!response.ok) {
        column.querySelector(".turn-text").textContent = await errorOf(response);
        return;
      }
      await readEvents(response, function (name, data) {
        if (name === "delta") {
          column.querySelector(".turn-text").innerHTML = data.html;
        } else if (name === "done") {
          const saved = fragment(data.html);
          column.replaceWith(saved);
          activate(saved);
        }
      });
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (controller) return;
      showError(error, "");
      const response = await post(form.action, form, new FormData(form));
      if (!response.ok) {
        showError(error, await errorOf(response));
        return;
      }
      const started = await response.json();
      window.history.replaceState({}, "", started.url);
      results.replaceChildren();
      document.getElementById("compare-vote").replaceChildren();
      controller = new AbortController();
      button.disabled = true;
      stop.hidden = false;
      const streams = started.slots.map(function (slot) {
        const column = turn("turn-model", slot.alias);
        column.id = "slot-" + slot.slot;
        column.setAttribute("aria-busy", "true");
        results.append(column);
        return streamSlot(slot, column, controller.signal).catch(function (e) {
          if (e.name !== "AbortError") column.querySelector(".turn-text").textContent = "Connection lost.";
        });
      });
      await Promise.all(streams);
      const stopped = controller.signal.aborted;
      controller = null;
      button.disabled = false;
      stop.hidden = true;
      window.setTimeout(function () {
        refreshFrom(started.url, [".compare-grid", "#compare-vote"]);
      }, stopped ? 400 : 0);
    });
  }

  function setUpTeamSwitch(select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const chat = document.getElementById("chat-form");
    if (chat) setUpChat(chat);
    const compare = document.getElementById("compare-form");
    if (compare) setUpCompare(compare);
    document.querySelectorAll("[data-submit-on-change]").forEach(setUpTeamSwitch);
  });
})();

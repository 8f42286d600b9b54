/*
 * Voice Agents playground: start a session through the REST API, join its LiveKit room with
 * the livekit-client SDK (window.LivekitClient, vendored by the set-up step), and draw every
 * structured turn from the agent's schema.
 *
 * window.playground.handleStructuredTurn(payload) is the one entry point for turns: the
 * room's data packets and text streams on "llm-structured-response" call it, and so can tests.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("playground-config").textContent);
  var schema = config.schema || [];
  var topics = config.topics || {};
  var $ = function (id) { return document.getElementById(id); };
  var decoder = new TextDecoder();

  var state = {
    room: null,
    session: null,
    micOn: false,
    seenTurns: new Set(),
    liveAgentTranscript: false,
    lastConfigMessage: { text: "", at: 0 },
    segments: new Map(),
  };

  // --- small DOM helpers ---------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function setStatus(text, stateName) {
    var status = $("status");
    if (!status) return;
    status.textContent = text;
    status.dataset.state = stateName;
  }

  function asText(payload) {
    if (typeof payload === "string") return payload;
    if (payload instanceof Uint8Array || payload instanceof ArrayBuffer) return decoder.decode(payload);
    return null;
  }

  function asMessage(payload) {
    var text = asText(payload);
    if (text === null) return payload && typeof payload === "object" ? payload : null;
    try {
      return JSON.parse(text);
    } catch (err) {
      console.warn("playground: a message that is not JSON was ignored", err);
      return null;
    }
  }

  // --- the schema renderer -------------------------------------------------------------------

  function isEmpty(value) {
    return value === undefined || value === null || value === "";
  }

  function renderLiteral(field, value) {
    var render = field.render || {};
    var choices = render.choices || [];
    var label = String(value).replace(/_/g, " ");
    var badge = el("span", { className: "pg-badge", "data-value": String(value), text: label });
    if (!choices.length) return badge;
    var current = choices.findIndex(function (c) { return String(c) === String(value); });
    var steps = el("ol", { className: "pg-stages", "aria-label": field.name + " stages" },
      choices.map(function (choice, i) {
        var cls = i === current ? "is-current" : (current >= 0 && i < current ? "is-done" : "");
        return el("li", {
          className: cls,
          "aria-current": i === current ? "step" : false,
          text: String(choice).replace(/_/g, " "),
        });
      }));
    return el("div", { className: "pg-literal" }, [badge, steps]);
  }

  function renderNumber(field, value) {
    var render = field.render || {};
    var number = Number(value);
    var min = render.ge !== undefined ? render.ge : render.gt;
    var max = render.le !== undefined ? render.le : render.lt;
    if (min === undefined || max === undefined || Number.isNaN(number)) {
      return el("span", { className: "pg-number", text: String(value) });
    }
    var meter = el("meter", {
      min: min, max: max, value: number,
      low: min + (max - min) / 3, high: min + (2 * (max - min)) / 3, optimum: max,
      "aria-label": field.name + " " + number + " of " + min + " to " + max,
    });
    return el("div", { className: "pg-meter" }, [
      meter,
      el("span", { className: "pg-meter-value", text: number + " / " + max }),
      el("span", { className: "pg-meter-range", text: "range " + min + "–" + max }),
    ]);
  }

  function renderList(field, value) {
    var items = Array.isArray(value) ? value : [value];
    if (!items.length) return el("span", { className: "pg-none", text: "none" });
    return el("ul", { className: "pg-chips" }, items.map(function (item) {
      return el("li", { className: "pg-chip", text: typeof item === "string" ? item : JSON.stringify(item) });
    }));
  }

  function renderBool(field, value) {
    var checked = value === true;
    var id = "f-" + field.name + "-" + Math.random().toString(36).slice(2, 8);
    return el("span", { className: "pg-check" }, [
      el("input", { type: "checkbox", id: id, disabled: true, checked: checked }),
      el("label", { for: id, text: checked ? "yes" : "no" }),
    ]);
  }

  function renderValue(field, value) {
    var kind = (field.render || {}).kind || "str";
    if (kind === "literal") return renderLiteral(field, value);
    if (kind === "int" || kind === "float") return renderNumber(field, value);
    if (kind === "list") return renderList(field, value);
    if (kind === "bool") return renderBool(field, value);
    if (kind === "dict") return el("pre", { className: "pg-json", text: JSON.stringify(value, null, 2) });
    return el("p", { className: "pg-text", text: String(value) });
  }

  /** One field of a turn: its name (the description as tooltip) and its value. */
  function renderField(field, value) {
    var kind = (field.render || {}).kind || "str";
    var flags = [];
    if (field.spoken) flags.push(el("span", { className: "pg-flag", text: "spoken" }));
    if (field.tts_instructions) flags.push(el("span", { className: "pg-flag", text: "voice" }));
    var name = el("dt", { title: field.description || false }, [
      el("span", { className: "pg-field-name", text: field.name }),
    ].concat(flags));
    var body = isEmpty(value) ? el("span", { className: "pg-none", text: "—" }) : renderValue(field, value);
    return el("div", {
      className: "pg-field pg-kind-" + kind,
      "data-field": field.name,
      "data-kind": kind,
      title: field.description || false,
    }, [name, el("dd", {}, [body])]);
  }

  // --- transcript ------------------------------------------------------------------------------

  function addLine(speaker, text, key) {
    var list = $("transcript");
    if (!list || isEmpty(text)) return null;
    var line = key ? list.querySelector('[data-key="' + CSS.escape(key) + '"]') : null;
    if (!line) {
      line = el("li", { className: "pg-line pg-" + speaker, "data-speaker": speaker, "data-key": key || false }, [
        el("span", { className: "pg-speaker", text: speaker === "user" ? "You" : "Agent" }),
        el("span", { className: "pg-said" }),
      ]);
      list.appendChild(line);
    }
    line.querySelector(".pg-said").textContent = text;
    line.scrollIntoView({ block: "nearest" });
    return line;
  }

  // --- message handlers ------------------------------------------------------------------------

  /** Draw one structured turn ({"type": "structured_turn", "data": {...}, ...}). Fields come
   * from the schema (in its order); anything not in the visible schema is never shown. */
  function handleStructuredTurn(payload) {
    var message = asMessage(payload);
    if (!message || message.type !== "structured_turn") return null;
    var key = (message.session_id || "") + ":" + message.turn;
    if (state.seenTurns.has(key)) return null; // sent both as a data packet and a text stream
    state.seenTurns.add(key);
    var data = message.data || {};

    if (message.user_text) addLine("user", message.user_text, "turn-user-" + key);
    var spokenField = schema.find(function (f) { return f.spoken; });
    var spoken = message.spoken_text || (spokenField ? data[spokenField.name] : "");
    if (!state.liveAgentTranscript) addLine("agent", spoken, "turn-agent-" + key);

    var fields = el("dl", { className: "pg-fields" }, schema
      .filter(function (field) { return Object.prototype.hasOwnProperty.call(data, field.name); })
      .map(function (field) { return renderField(field, data[field.name]); }));
    var heading = el("h3", {}, [
      "Turn " + (message.turn !== undefined ? message.turn : "?"),
      message.version ? el("span", { className: "pg-meta", text: message.version === "draft" ? " · draft" : " · v" + message.version }) : null,
      message.valid === false ? el("span", { className: "pg-badge pg-invalid", text: "invalid" }) : null,
      message.interrupted ? el("span", { className: "pg-badge", text: "interrupted" }) : null,
    ]);
    var errors = (message.errors || []).length
      ? el("ul", { className: "pg-errors" }, message.errors.map(function (e) {
        return el("li", { text: typeof e === "string" ? e : JSON.stringify(e) });
      }))
      : null;
    var tools = (message.tool_calls || []).length
      ? el("ul", { className: "pg-tools" }, message.tool_calls.map(function (call) {
        var took = call.duration_ms !== null && call.duration_ms !== undefined ? " · " + Math.round(call.duration_ms) + " ms" : "";
        return el("li", { className: "pg-tool pg-tool-" + call.status }, [
          el("code", { text: call.name + "(" + JSON.stringify(call.arguments || {}) + ")" }),
          el("span", { className: "pg-meta", text: " " + call.status + took }),
          call.result ? el("div", { className: "pg-tool-result", text: call.result }) : null,
        ]);
      }))
      : null;
    var card = el("article", { className: "pg-turn", "data-turn": message.turn }, [heading, tools, fields, errors]);
    var turns = $("turns");
    turns.insertBefore(card, turns.firstChild);
    return card;
  }

  /** A configuration change of the agent ({"type": "config_changed", ...}): show a notice. */
  function handleConfigUpdate(payload) {
    var text = asText(payload);
    var now = Date.now();
    if (text !== null && text === state.lastConfigMessage.text && now - state.lastConfigMessage.at < 5000) {
      return null; // the same message as a data packet and a text stream
    }
    state.lastConfigMessage = { text: text, at: now };
    var message = asMessage(payload);
    if (!message || message.type !== "config_changed") return null;
    var notice = $("config-notice");
    var action = message.action ? String(message.action).replace(/_/g, " ") : "changed";
    notice.textContent = "The agent's configuration changed" +
      (message.version ? " (version " + message.version + ")" : "") + ": " + action +
      ". Start a new session to use it.";
    notice.dataset.version = message.version || "";
    notice.hidden = false;
    return notice;
  }

  function handleData(payload, participant, kind, topic) {
    if (topic === topics.turn) handleStructuredTurn(payload);
    else if (topic === topics.config) handleConfigUpdate(payload);
  }

  // --- LiveKit room ----------------------------------------------------------------------------

  function readStream(reader, onText) {
    var text = "";
    (async function () {
      for await (var chunk of reader) {
        text += chunk;
        onText(text);
      }
    })().catch(function (err) { console.warn("playground: text stream failed", err); });
  }

  function onTranscription(reader, participantInfo) {
    var room = state.room;
    var local = room && room.localParticipant ? room.localParticipant.identity : "";
    var speaker = participantInfo.identity === local ? "user" : "agent";
    if (speaker === "agent") state.liveAgentTranscript = true;
    var attrs = (reader.info && reader.info.attributes) || {};
    var key = "seg-" + (attrs["lk.segment_id"] || reader.info.id);
    readStream(reader, function (text) { addLine(speaker, text, key); });
  }

  function registerStreams(room) {
    room.registerTextStreamHandler(topics.turn, function (reader) {
      reader.readAll().then(handleStructuredTurn);
    });
    room.registerTextStreamHandler(topics.config, function (reader) {
      reader.readAll().then(handleConfigUpdate);
    });
    room.registerTextStreamHandler("lk.transcription", onTranscription);
  }

  async function connect(livekit) {
    var SDK = window.LivekitClient;
    if (!SDK) {
      setStatus("Session started, but the LiveKit SDK did not load (run the set-up step that " +
        "installs livekit-client); cannot join the room.", "sdk-missing");
      return;
    }
    if (!livekit.url) {
      setStatus("Session started, but the server sent no LiveKit URL.", "error");
      return;
    }
    var room = new SDK.Room({ adaptiveStream: true, dynacast: true });
    state.room = room;
    room.on(SDK.RoomEvent.DataReceived, handleData);
    room.on(SDK.RoomEvent.TrackSubscribed, function (track) {
      if (track.kind === SDK.Track.Kind.Audio) $("audio-sink").appendChild(track.attach());
    });
    room.on(SDK.RoomEvent.TrackUnsubscribed, function (track) { track.detach().forEach(function (e) { e.remove(); }); });
    room.on(SDK.RoomEvent.Disconnected, function () {
      setStatus("Disconnected from the room.", "disconnected");
      setConnectedControls(false);
    });
    room.on(SDK.RoomEvent.AudioPlaybackStatusChanged, function () {
      if (!room.canPlaybackAudio) setStatus("Click anywhere to allow the agent's audio.", "connected");
    });
    registerStreams(room);
    setStatus("Connecting to " + livekit.url + " …", "connecting");
    try {
      await room.connect(livekit.url, livekit.token);
      await room.startAudio();
      setStatus("Connected to room " + livekit.room + ". Turn the microphone on or type a message.", "connected");
      setConnectedControls(true);
    } catch (err) {
      state.room = null;
      setStatus("Could not connect to LiveKit at " + livekit.url + ": " + (err && err.message ? err.message : err) +
        ". Check LIVEKIT_URL and that the server is reachable from your browser.", "connect-failed");
    }
  }

  function setConnectedControls(connected) {
    $("mic-toggle").disabled = !connected;
    $("chat-input").disabled = !connected;
    $("chat-send").disabled = !connected;
  }

  async function toggleMic() {
    if (!state.room) return;
    var on = !state.micOn;
    try {
      await state.room.localParticipant.setMicrophoneEnabled(on);
      state.micOn = on;
      $("mic-toggle").setAttribute("aria-pressed", String(on));
      $("mic-toggle").textContent = on ? "Microphone on" : "Microphone off";
    } catch (err) {
      setStatus("Microphone unavailable: " + (err && err.message ? err.message : err), "connected");
    }
  }

  async function sendChat(event) {
    event.preventDefault();
    var input = $("chat-input");
    var text = input.value.trim();
    if (!text || !state.room) return;
    try {
      await state.room.localParticipant.sendText(text, { topic: topics.chat });
      addLine("user", text);
      input.value = "";
    } catch (err) {
      setStatus("Could not send the message: " + (err && err.message ? err.message : err), "connected");
    }
  }

  // --- text chat (no LiveKit): one POST per message, the answer streams back as Server-Sent
  // Events (spoken text as it is written, then the structured turn) --------------------------

  state.chatReset = true;
  state.chatCount = 0;

  /** Read a text/event-stream body, calling onEvent(name, data) for each event. */
  async function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      var end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        var block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        var name = "message";
        var data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) name = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }

  async function sendTextChat(event) {
    event.preventDefault();
    var input = $("text-chat-input");
    var text = input.value.trim();
    if (!text) return;
    var status = $("text-chat-status");
    var body = { message: text, version: $("text-chat-version").value, tenant: config.tenant, reset: state.chatReset };
    var n = ++state.chatCount;
    var userLine = addLine("user", text, "chat-pending-user-" + n);
    var agentLine = null;
    var spoken = "";
    var answered = false;
    $("text-chat-send").disabled = true;
    status.textContent = "The agent is answering…";
    status.dataset.state = "waiting";
    function fail(message) {
      status.textContent = "The agent could not answer: " + message;
      status.dataset.state = "error";
      if (userLine) userLine.remove();
      if (agentLine) agentLine.remove();
    }
    try {
      var headers = apiHeaders();
      headers.Accept = "text/event-stream";
      var response = await fetch(config.chat_url, {
        method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body),
      });
      if (!response.ok) {
        var data = await response.json().catch(function () { return null; });
        fail(errorText(data, response));
        return;
      }
      await readEvents(response, function (name, data) {
        if (name === "text") {
          spoken += data.delta;
          agentLine = addLine("agent", spoken, "chat-pending-agent-" + n);
          if (agentLine) agentLine.dataset.streaming = "true";
          status.dataset.state = "streaming";
        } else if (name === "turn") {
          var key = data.turn.session_id + ":" + data.turn.turn;
          if (userLine) userLine.dataset.key = "turn-user-" + key;
          if (agentLine) {
            agentLine.dataset.key = "turn-agent-" + key;
            delete agentLine.dataset.streaming;
          }
          answered = true;
          state.chatReset = false;
          input.value = "";
          handleStructuredTurn(data.turn);
          status.textContent = "Turn " + data.turn.turn + " (version " + data.version + ").";
          status.dataset.state = "answered";
        } else if (name === "error") {
          fail(errorText(data, response));
        }
      });
      if (!answered && status.dataset.state !== "error") fail("the answer ended early");
    } catch (err) {
      fail(err && err.message ? err.message : String(err));
    } finally {
      $("text-chat-send").disabled = false;
    }
  }

  function resetTextChat() {
    state.chatReset = true;
    $("text-chat-status").textContent = "A new conversation starts with the next message.";
  }

  // --- sessions through the REST API -----------------------------------------------------------

  function csrfToken() {
    var field = document.querySelector("#session-form [name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function apiHeaders() {
    return { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "X-Tenant": config.tenant };
  }

  function errorText(body, response) {
    var error = body && body.error;
    return (error && error.message) || response.statusText || "HTTP " + response.status;
  }

  function showSession(data) {
    state.session = data;
    $("session-id").textContent = data.session_id;
    $("session-version").textContent = data.version;
    $("session-room").textContent = data.room_name;
    $("livekit-url").textContent = data.livekit.url;
    $("livekit-token").textContent = "received (" + data.livekit.token.length + " characters)";
    $("livekit-token").dataset.received = "true";
    $("session-info").hidden = false;
    $("end-session").disabled = false;
  }

  async function startSession(event) {
    event.preventDefault();
    var details = {};
    document.querySelectorAll("[data-detail]").forEach(function (input) {
      if (input.value.trim()) details[input.dataset.detail] = input.value.trim();
    });
    var body = { agent_id: config.agent_id, user_id: $("user-id").value.trim(), user_details: details };
    $("start-session").disabled = true;
    setStatus("Starting a session…", "starting");
    try {
      var response = await fetch(config.sessions_url, {
        method: "POST", credentials: "same-origin", headers: apiHeaders(), body: JSON.stringify(body),
      });
      var data = await response.json().catch(function () { return null; });
      if (!response.ok) {
        setStatus("Could not start a session: " + errorText(data, response), "error");
        $("start-session").disabled = false;
        return;
      }
      showSession(data);
      setStatus("Session " + data.session_id + " started (version " + data.version + "); token received.", "started");
      await connect(data.livekit);
    } catch (err) {
      setStatus("Could not start a session: " + (err && err.message ? err.message : err), "error");
      $("start-session").disabled = false;
    }
  }

  async function endSession() {
    if (state.room) await state.room.disconnect();
    state.room = null;
    if (state.session) {
      var url = config.sessions_url + "/" + state.session.session_id + "/end";
      var response = await fetch(url, { method: "POST", credentials: "same-origin", headers: apiHeaders() });
      setStatus(response.ok ? "Session ended." : "The session could not be ended (HTTP " + response.status + ").",
        "ended");
    }
    state.session = null;
    $("end-session").disabled = true;
    $("start-session").disabled = false;
    setConnectedControls(false);
  }

  function init() {
    var form = $("session-form");
    if (form) {
      form.addEventListener("submit", startSession);
      $("end-session").addEventListener("click", endSession);
      $("mic-toggle").addEventListener("click", toggleMic);
      $("chat-form").addEventListener("submit", sendChat);
      if ($("text-chat-form")) {
        $("text-chat-form").addEventListener("submit", sendTextChat);
        $("text-chat-reset").addEventListener("click", resetTextChat);
        $("text-chat-version").addEventListener("change", resetTextChat);
      }
      document.addEventListener("click", function () {
        if (state.room && !state.room.canPlaybackAudio) state.room.startAudio();
      });
    }
    (config.replay_turns || []).forEach(handleStructuredTurn);
  }

  window.playground = {
    config: config,
    state: state,
    handleStructuredTurn: handleStructuredTurn,
    handleConfigUpdate: handleConfigUpdate,
    handleData: handleData,
  };

  init();
})();

// Trident dashboard: a single page over the management API (/api/...). Plain
// JavaScript, no framework and no build step; the broker serves this file from its
// binary. Every value from the broker goes into the page as text (textContent), never
// as HTML, so a queue or payload named like markup stays text.
(function () {
  "use strict";

  const REFRESH_MS = 5000; // the broker samples rates every 5 s; polling faster shows nothing new
  const RANGE = "msg_rates_age=600&msg_rates_incr=5&lengths_age=600&lengths_incr=5";
  const $ = (sel) => document.querySelector(sel);
  let auth = sessionStorage.getItem("trident.auth");
  let me = null;
  let current = null; // the mounted view: {update()}
  let timer = null;

  // ------------------------------------------------------------------ helpers

  // h("td", {class: "num"}, "text", childNode, ...): builds elements without HTML strings.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function enc(s) {
    return encodeURIComponent(s);
  }

  function utf8base64(s) {
    const bytes = new TextEncoder().encode(s);
    let bin = "";
    bytes.forEach((b) => (bin += String.fromCharCode(b)));
    return btoa(bin);
  }

  function fmt(n) {
    if (n === undefined || n === null) return "";
    return Number(n).toLocaleString("en-US");
  }

  function fmtRate(d) {
    const r = d && typeof d.rate === "number" ? d.rate : 0;
    return r.toFixed(r >= 100 ? 0 : 1);
  }

  function fmtBytes(n) {
    if (!n) return "0 B";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
    return (n / Math.pow(1024, i)).toFixed(i ? 1 : 0) + " " + u[i];
  }

  class ApiError extends Error {
    constructor(status, reason) {
      super(reason);
      this.status = status;
    }
  }

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign(
      { Authorization: "Basic " + auth, "X-Trident-Dashboard": "1" },
      extraHeaders || {}
    );
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    const text = await r.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (r.status === 401 && me) {
      logout("Your session is no longer valid: " + ((data && data.reason) || "login refused"));
    }
    if (!r.ok) throw new ApiError(r.status, (data && data.reason) || r.status + " " + r.statusText);
    return data;
  }

  function flash(text, bad) {
    const f = $("#flash");
    f.textContent = text;
    f.className = bad ? "bad" : "";
    f.hidden = false;
    clearTimeout(flash.t);
    flash.t = setTimeout(() => (f.hidden = true), 8000);
  }

  // A confirmation in the page's own dialog (not window.confirm: it can say what will
  // be lost and name the button after the action).
  function confirmAction(text, okLabel) {
    const d = $("#confirm");
    $("#confirm-text").textContent = text;
    $("#confirm-ok").textContent = okLabel;
    d.returnValue = "";
    d.showModal();
    return new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    });
  }

  // Counters' samples (newest first, cumulative) to per-second rates, oldest first.
  function ratePoints(details) {
    const s = ((details && details.samples) || []).slice().reverse();
    const out = [];
    for (let i = 1; i < s.length; i++) {
      const dt = (s[i].timestamp - s[i - 1].timestamp) / 1000;
      if (dt > 0) out.push([s[i].timestamp, Math.max(0, (s[i].sample - s[i - 1].sample) / dt)]);
    }
    return out;
  }

  // Depths' samples (newest first) as points, oldest first.
  function levelPoints(details) {
    return ((details && details.samples) || [])
      .slice()
      .reverse()
      .map((s) => [s.timestamp, s.sample]);
  }

  function chartBox(id, title, names) {
    const canvas = h("canvas", { id });
    const legend = h(
      "div",
      { class: "legend" },
      names.map((n, i) => {
        const swatch = h("i");
        // Through the CSSOM: the page's CSP refuses inline style attributes.
        swatch.style.background = window.TridentChart.colors[i];
        return h("span", {}, swatch, n);
      })
    );
    return { el: h("div", { class: "chart" }, h("h3", { text: title }), canvas, legend), canvas };
  }

  function table(headers, rows, empty) {
    const thead = h(
      "thead",
      {},
      h("tr", {}, headers.map((x) => h("th", { class: x.num ? "num" : null, text: x.label || x })))
    );
    const body = rows.length
      ? rows
      : [h("tr", {}, h("td", { colspan: headers.length, class: "muted", text: empty || "none" }))];
    return h("table", {}, thead, h("tbody", {}, body));
  }

  function num(v) {
    return h("td", { class: "num", text: fmt(v) });
  }

  function replace(container, node) {
    container.replaceChildren(node);
  }

  function errorNote(e) {
    return h("p", { class: "error", text: e.message });
  }

  // ------------------------------------------------------------------ views

  const views = {};

  views.overview = function (main) {
    const totals = h("div", { class: "totals" });
    const rates = chartBox("chart-rates", "Message rates (per second)", [
      "publish",
      "deliver / get",
      "ack",
      "records appended",
      "records fetched",
    ]);
    const depth = chartBox("chart-depth", "Queued messages", ["ready", "unacknowledged"]);
    const listeners = h("div");
    // Raised resource alarms mean publishers are being held back (AMQP connection.blocked,
    // MQTT and Kafka producers not read): the first thing an operator must see.
    const alarms = h("div", { id: "alarms", role: "alert", hidden: "" });
    const resources = h("div", { id: "resources" });
    main.append(
      h("h1", { text: "Overview" }),
      alarms,
      totals,
      h("h2", { text: "Resources" }),
      resources,
      h("h2", { text: "Last ten minutes" }),
      h("div", { class: "charts" }, rates.el, depth.el),
      h("h2", { text: "Listeners" }),
      listeners
    );
    return {
      async update() {
        const o = await api("GET", "/api/overview?" + RANGE);
        const t = o.object_totals || {};
        const q = o.queue_totals || {};
        const cells = [
          ["Connections", t.connections],
          ["Queues", t.queues],
          ["Exchanges", t.exchanges],
          ["Consumers", t.consumers],
          ["Topics", t.topics],
          ["Partitions", t.partitions],
          ["Ready", q.messages_ready],
          ["Unacked", q.messages_unacknowledged],
          ["Publish /s", fmtRate(o.message_stats.publish_details)],
          ["Log on disk", fmtBytes(o.log_bytes)],
        ];
        totals.replaceChildren(
          ...cells.map(([k, v]) => h("div", { class: "total" }, h("b", { text: typeof v === "number" ? fmt(v) : v }), k))
        );
        showAlarms(alarms, resources, o);
        const m = o.message_stats || {};
        window.TridentChart.draw(rates.canvas, [
          { name: "publish", points: ratePoints(m.publish_details) },
          { name: "deliver_get", points: ratePoints(m.deliver_get_details) },
          { name: "ack", points: ratePoints(m.ack_details) },
          { name: "records_appended", points: ratePoints(m.records_appended_details) },
          { name: "records_fetched", points: ratePoints(m.records_fetched_details) },
        ]);
        window.TridentChart.draw(depth.canvas, [
          { name: "ready", points: levelPoints(q.messages_ready_details) },
          { name: "unacked", points: levelPoints(q.messages_unacknowledged_details) },
        ]);
        replace(
          listeners,
          table(
            ["Protocol", "Address", "Port"],
            (o.listeners || []).map((l) => h("tr", {}, h("td", { text: l.protocol }), h("td", { text: l.ip_address }), num(l.port)))
          )
        );
      },
    };
  };

  // The memory and disk watermarks from /api/overview: a banner when an alarm is raised,
  // and a table of what is measured against which limit.
  function showAlarms(banner, resources, o) {
    const raised = [];
    if (o.mem_alarm) {
      raised.push("Memory alarm: " + fmtBytes(o.mem_used) + " used, the watermark is " + fmtBytes(o.mem_limit));
    }
    if (o.disk_free_alarm) {
      raised.push("Disk alarm: " + fmtBytes(o.disk_free) + " free, the limit is " + fmtBytes(o.disk_free_limit));
    }
    if (raised.length) {
      banner.replaceChildren(
        ...raised.map((t) => h("p", { text: t })),
        h("p", { class: "muted", text: "Publishers are blocked until the alarm clears; consumers keep going." })
      );
      banner.hidden = false;
    } else {
      banner.replaceChildren();
      banner.hidden = true;
    }
    const row = (name, value, limit, alarm, limitLabel) =>
      h(
        "tr",
        { "data-resource": name },
        h("td", { text: name }),
        h("td", { class: "num", text: fmtBytes(value) }),
        h("td", { class: "num", text: limitLabel + " " + fmtBytes(limit) }),
        h("td", { class: alarm ? "alarm" : "ok", text: alarm ? "alarm" : "ok" })
      );
    replace(
      resources,
      table(
        ["Resource", "Measured", "Watermark", "State"],
        [
          row("Memory used", o.mem_used, o.mem_limit, o.mem_alarm, "at most"),
          row("Disk free", o.disk_free, o.disk_free_limit, o.disk_free_alarm, "at least"),
        ]
      )
    );
  }

  views.connections = function (main) {
    const list = h("div");
    main.append(h("h1", { text: "Connections" }), list);
    const view = {
      async update() {
        const cs = await api("GET", "/api/connections");
        replace(
          list,
          table(
            ["Name", "Protocol", "Peer", "User", "Vhost", "Client", "Connected", ""],
            cs.map((c) =>
              h(
                "tr",
                { "data-connection": c.name },
                h("td", { text: c.name }),
                h("td", { text: c.protocol }),
                h("td", { text: c.peer_host + ":" + c.peer_port }),
                h("td", { text: c.user || "" }),
                h("td", { text: c.vhost || "" }),
                h("td", { text: c.client || "" }),
                h("td", { text: c.connected_at ? new Date(c.connected_at).toLocaleString() : "" }),
                h(
                  "td",
                  {},
                  h("button", {
                    class: "danger",
                    text: "Close",
                    onclick: async (ev) => {
                      const row = ev.target.closest("tr");
                      const what = c.protocol + " connection " + c.name + " from " + c.peer_host;
                      if (!(await confirmAction("Close the " + what + "? The client is disconnected.", "Close connection"))) return;
                      try {
                        await api("DELETE", "/api/connections/" + enc(c.name), undefined, {
                          "X-Reason": "Closed from the Trident dashboard by " + me.name,
                        });
                        flash("Closed " + what + ".");
                        // The broker closes it asynchronously: a listing fetched right
                        // now may still show it. The next refresh shows the truth.
                        row.remove();
                      } catch (e) {
                        flash(e.message, true);
                        view.update().catch(() => {});
                      }
                    },
                  })
                )
              )
            ),
            "no open connections"
          )
        );
      },
    };
    return view;
  };

  views.queues = function (main) {
    const list = h("div");
    const vhost = h("input", { id: "new-queue-vhost", value: "/", size: 8 });
    const name = h("input", { id: "new-queue-name", placeholder: "name", required: true });
    const durable = h("input", { id: "new-queue-durable", type: "checkbox", checked: true });
    const form = h(
      "form",
      {
        class: "row",
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            await api("PUT", "/api/queues/" + enc(vhost.value) + "/" + enc(name.value), { durable: durable.checked });
            flash("Declared queue " + name.value + ".");
            name.value = "";
            view.update();
          } catch (e) {
            flash(e.message, true);
          }
        },
      },
      h("label", {}, "Vhost", vhost),
      h("label", {}, "Name", name),
      h("label", { class: "inline" }, durable, "durable"),
      h("button", { type: "submit", text: "Add queue" })
    );
    main.append(h("h1", { text: "Queues" }), list, h("h2", { text: "Add a queue" }), form);
    const view = {
      async update() {
        const qs = await api("GET", "/api/queues");
        replace(
          list,
          table(
            [
              "Vhost",
              "Name",
              "Type",
              "Features",
              { label: "Ready", num: 1 },
              { label: "Unacked", num: 1 },
              { label: "Total", num: 1 },
              { label: "Consumers", num: 1 },
              { label: "Incoming /s", num: 1 },
              { label: "Deliver /s", num: 1 },
              { label: "Ack /s", num: 1 },
            ],
            qs.map((q) => {
              const ms = q.message_stats || {};
              const features = [q.durable ? "D" : "", q.auto_delete ? "AD" : "", q.exclusive ? "Excl" : ""].filter(Boolean).join(" ");
              return h(
                "tr",
                { "data-queue": q.name, "data-vhost": q.vhost },
                h("td", { text: q.vhost }),
                h("td", {}, h("a", { href: "#/queue/" + enc(q.vhost) + "/" + enc(q.name), text: q.name })),
                h("td", { text: q.type }),
                h("td", { text: features, title: "D: durable, AD: auto-delete, Excl: exclusive" }),
                h("td", { class: "num ready", text: fmt(q.messages_ready) }),
                num(q.messages_unacknowledged),
                h("td", { class: "num total-messages", text: fmt(q.messages) }),
                num(q.consumers),
                h("td", { class: "num", text: fmtRate(ms.publish_details) }),
                h("td", { class: "num", text: fmtRate(ms.deliver_get_details) }),
                h("td", { class: "num", text: fmtRate(ms.ack_details) })
              );
            }),
            "no queues"
          )
        );
      },
    };
    return view;
  };

  views.queue = function (main, [vhost, name]) {
    const path = "/api/queues/" + enc(vhost) + "/" + enc(name);
    const totals = h("div", { class: "totals" });
    const rates = chartBox("chart-queue-rates", "Message rates (per second)", ["incoming", "deliver / get", "ack"]);
    const depth = chartBox("chart-queue-depth", "Messages", ["ready", "unacknowledged"]);
    const got = h("div", { id: "got-messages", class: "scroll" });
    const payload = h("textarea", { id: "publish-payload", placeholder: "payload" });
    const mode = h(
      "select",
      { id: "publish-mode" },
      h("option", { value: "1", text: "1 - transient" }),
      h("option", { value: "2", text: "2 - persistent" })
    );
    const count = h("input", { id: "get-count", type: "number", min: 1, max: 1000, value: 1 });
    const ackmode = h(
      "select",
      { id: "get-ackmode" },
      h("option", { value: "ack_requeue_true", text: "Nack, requeue (leave in queue)" }),
      h("option", { value: "ack_requeue_false", text: "Ack (remove from queue)" }),
      h("option", { value: "reject_requeue_false", text: "Reject (dead-letter or drop)" })
    );
    let last = null;
    const publishForm = h(
      "form",
      {
        id: "publish-form",
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            const r = await api("POST", "/api/exchanges/" + enc(vhost) + "/amq.default/publish", {
              routing_key: name,
              payload: payload.value,
              payload_encoding: "string",
              properties: { delivery_mode: Number(mode.value) },
            });
            flash(r.routed ? "Message published." : "Message published, but not routed to any queue.", !r.routed);
            view.update();
          } catch (e) {
            flash(e.message, true);
          }
        },
      },
      h("h2", { text: "Publish a message" }),
      h("p", { class: "muted", text: "Through the default exchange with routing key '" + name + "'." }),
      h("label", {}, "Delivery mode", mode),
      h("label", {}, "Payload", payload),
      h("button", { type: "submit", id: "publish-button", text: "Publish message" })
    );
    const getForm = h(
      "form",
      {
        id: "get-form",
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            const ms = await api("POST", path + "/get", {
              count: Number(count.value) || 1,
              ackmode: ackmode.value,
              encoding: "auto",
              truncate: 50000,
            });
            replace(
              got,
              table(
                ["#", "Exchange", "Routing key", "Redelivered", "Properties", { label: "Bytes", num: 1 }, "Payload"],
                ms.map((m, i) =>
                  h(
                    "tr",
                    { class: "message" },
                    num(i + 1),
                    h("td", { text: m.exchange || "(AMQP default)" }),
                    h("td", { text: m.routing_key }),
                    h("td", { text: m.redelivered ? "yes" : "no" }),
                    h("td", { text: JSON.stringify(m.properties) }),
                    num(m.payload_bytes),
                    h("td", {}, h("pre", { class: "payload", text: (m.payload_encoding === "base64" ? "(base64) " : "") + m.payload }))
                  )
                ),
                "the queue is empty"
              )
            );
            view.update();
          } catch (e) {
            flash(e.message, true);
          }
        },
      },
      h("h2", { text: "Get messages" }),
      h("p", { class: "muted", text: "Takes messages from the queue, as a consumer would." }),
      h("div", { class: "row" }, h("label", {}, "Messages", count), h("label", {}, "Then", ackmode)),
      h("button", { type: "submit", id: "get-button", text: "Get messages" }),
      got
    );
    const actions = h(
      "div",
      { class: "actions" },
      h("button", {
        class: "danger",
        id: "purge-button",
        text: "Purge messages",
        onclick: async () => {
          const n = last ? last.messages_ready : 0;
          const ok = await confirmAction(
            "Purge queue '" + name + "' in vhost '" + vhost + "'? Its " + fmt(n) + " ready message(s) are deleted for good.",
            "Purge"
          );
          if (!ok) return;
          try {
            await api("DELETE", path + "/contents");
            flash("Queue '" + name + "' purged.");
          } catch (e) {
            flash(e.message, true);
          }
          view.update();
        },
      }),
      h("button", {
        class: "danger",
        id: "delete-button",
        text: "Delete queue",
        onclick: async () => {
          const ok = await confirmAction(
            "Delete queue '" + name + "' in vhost '" + vhost + "' with all its messages, bindings and consumers?",
            "Delete"
          );
          if (!ok) return;
          try {
            await api("DELETE", path);
            flash("Queue '" + name + "' deleted.");
            location.hash = "#/queues";
          } catch (e) {
            flash(e.message, true);
          }
        },
      })
    );
    main.append(
      h("h1", {}, "Queue ", h("span", { id: "queue-name", text: name })),
      h("p", { class: "muted", text: "vhost " + vhost }),
      totals,
      h("div", { class: "charts" }, rates.el, depth.el),
      actions,
      h("div", { class: "forms" }, h("div", { class: "card" }, publishForm), h("div", { class: "card" }, getForm))
    );
    const view = {
      async update() {
        const q = await api("GET", path + "?" + RANGE);
        last = q;
        const ms = q.message_stats || {};
        totals.replaceChildren(
          ...[
            ["Ready", fmt(q.messages_ready), "queue-ready"],
            ["Unacked", fmt(q.messages_unacknowledged)],
            ["Total", fmt(q.messages), "queue-total"],
            ["Ready bytes", fmtBytes(q.message_bytes_ready)],
            ["Consumers", fmt(q.consumers)],
            ["Incoming /s", fmtRate(ms.publish_details)],
            ["Type", q.type + (q.durable ? ", durable" : "")],
          ].map(([k, v, id]) => h("div", { class: "total" }, h("b", { id, text: v }), k))
        );
        window.TridentChart.draw(rates.canvas, [
          { name: "publish", points: ratePoints(ms.publish_details) },
          { name: "deliver_get", points: ratePoints(ms.deliver_get_details) },
          { name: "ack", points: ratePoints(ms.ack_details) },
        ]);
        window.TridentChart.draw(depth.canvas, [
          { name: "ready", points: levelPoints(q.messages_ready_details) },
          { name: "unacked", points: levelPoints(q.messages_unacknowledged_details) },
        ]);
      },
    };
    return view;
  };

  views.exchanges = function (main) {
    const xs = h("div");
    const bs = h("div");
    main.append(h("h1", { text: "Exchanges" }), xs, h("h2", { text: "Bindings" }), bs);
    return {
      async update() {
        const [exchanges, bindings] = await Promise.all([api("GET", "/api/exchanges"), api("GET", "/api/bindings")]);
        replace(
          xs,
          table(
            ["Vhost", "Name", "Type", "Features", "Arguments"],
            exchanges.map((x) =>
              h(
                "tr",
                { "data-exchange": x.name },
                h("td", { text: x.vhost }),
                h("td", { text: x.name || "(AMQP default)" }),
                h("td", { text: x.type }),
                h("td", { text: [x.durable ? "D" : "", x.auto_delete ? "AD" : "", x.internal ? "I" : ""].filter(Boolean).join(" ") }),
                h("td", { text: Object.keys(x.arguments || {}).length ? JSON.stringify(x.arguments) : "" })
              )
            )
          )
        );
        replace(
          bs,
          table(
            ["Vhost", "Source", "Destination", "Routing key", "Arguments"],
            bindings.map((b) =>
              h(
                "tr",
                { "data-binding": b.source + "->" + b.destination },
                h("td", { text: b.vhost }),
                h("td", { text: b.source || "(AMQP default)" }),
                h("td", { text: b.destination_type + " " + b.destination }),
                h("td", { text: b.routing_key }),
                h("td", { text: Object.keys(b.arguments || {}).length ? JSON.stringify(b.arguments) : "" })
              )
            ),
            "no bindings"
          )
        );
      },
    };
  };

  function lagCell(lag) {
    return h("td", { class: "num lag" + (lag ? "" : " zero"), text: fmt(lag) });
  }

  views.topics = function (main) {
    const list = h("div");
    main.append(h("h1", { text: "Topics" }), list);
    return {
      async update() {
        const [ts, groups] = await Promise.all([api("GET", "/api/topics"), api("GET", "/api/consumer-groups")]);
        replace(
          list,
          table(
            [
              "Name",
              { label: "Partitions", num: 1 },
              { label: "Messages", num: 1 },
              { label: "Size", num: 1 },
              { label: "Produce /s", num: 1 },
              "Consumer groups (lag)",
            ],
            ts.map((t) => {
              const gs = groups.filter((g) => (g.topics || []).includes(t.name));
              return h(
                "tr",
                { "data-topic": t.name },
                h("td", {}, h("a", { href: "#/topic/" + enc(t.name), text: t.name })),
                num(t.partitions),
                num(t.messages),
                h("td", { class: "num", text: fmtBytes(t.bytes) }),
                h("td", { class: "num", text: fmtRate((t.message_stats || {}).publish_details) }),
                h(
                  "td",
                  {},
                  gs.map((g) => {
                    const lag = g.offsets.filter((o) => o.topic === t.name).reduce((a, o) => a + o.lag, 0);
                    return h("span", { class: "tag" }, g.group + " (" + fmt(lag) + ")");
                  })
                )
              );
            }),
            "no topics"
          )
        );
      },
    };
  };

  views.topic = function (main, [name]) {
    const parts = h("div");
    const groups = h("div");
    const rate = chartBox("chart-topic-rate", "Records appended (per second)", ["produce"]);
    main.append(
      h("h1", {}, "Topic ", h("span", { id: "topic-name", text: name })),
      h("div", { class: "charts" }, rate.el),
      h("h2", { text: "Partitions" }),
      parts,
      h("h2", { text: "Consumer groups" }),
      groups
    );
    return {
      async update() {
        const [t, gs] = await Promise.all([api("GET", "/api/topics/" + enc(name) + "?" + RANGE), api("GET", "/api/consumer-groups")]);
        window.TridentChart.draw(rate.canvas, [{ name: "produce", points: ratePoints((t.message_stats || {}).publish_details) }]);
        replace(
          parts,
          table(
            [{ label: "Partition", num: 1 }, { label: "Start offset", num: 1 }, { label: "End offset", num: 1 }, { label: "Messages", num: 1 }, { label: "Size", num: 1 }],
            (t.partition_details || []).map((p) =>
              h("tr", { "data-partition": p.partition }, num(p.partition), num(p.start_offset), num(p.end_offset), num(p.end_offset - p.start_offset), h("td", { class: "num", text: fmtBytes(p.bytes) }))
            )
          )
        );
        const rows = [];
        for (const g of gs) {
          for (const o of g.offsets.filter((o) => o.topic === name)) {
            rows.push(h("tr", { "data-group": g.group, "data-partition": o.partition }, h("td", { text: g.group }), num(o.partition), num(o.committed_offset), num(o.end_offset), lagCell(o.lag)));
          }
        }
        replace(
          groups,
          table(["Group", { label: "Partition", num: 1 }, { label: "Committed", num: 1 }, { label: "End offset", num: 1 }, { label: "Lag", num: 1 }], rows, "no group has committed offsets for this topic")
        );
      },
    };
  };

  views.groups = function (main) {
    const summary = h("div");
    const list = h("div");
    main.append(h("h1", { text: "Consumer groups" }), summary, h("h2", { text: "Offsets and lag" }), list);
    // Which member holds a partition now (Kafka's CURRENT-CONSUMER column).
    const owner = (g, o) => {
      const m = (g.members || []).find((m) => (m.assignment || []).some((a) => a.topic === o.topic && a.partition === o.partition));
      return m ? (m.client_id || m.member_id) + (m.host ? " @ " + m.host : "") : "";
    };
    return {
      async update() {
        const gs = await api("GET", "/api/consumer-groups");
        replace(
          summary,
          table(
            ["Group", "State", { label: "Members", num: 1 }, "Topics", { label: "Lag", num: 1 }],
            gs.map((g) =>
              h(
                "tr",
                { "data-group-summary": g.group },
                h("td", { text: g.group }),
                h("td", { text: g.state || "" }),
                num((g.members || []).length),
                h("td", {}, (g.topics || []).map((t) => h("a", { class: "tag", href: "#/topic/" + enc(t), text: t }))),
                lagCell(g.lag)
              )
            ),
            "no consumer groups"
          )
        );
        const rows = [];
        for (const g of gs) {
          for (const o of g.offsets) {
            rows.push(
              h("tr", { "data-group": g.group }, h("td", { text: g.group }), h("td", {}, h("a", { href: "#/topic/" + enc(o.topic), text: o.topic })), num(o.partition), num(o.committed_offset), num(o.end_offset), lagCell(o.lag), h("td", { text: owner(g, o) }))
            );
          }
        }
        replace(
          list,
          table(["Group", "Topic", { label: "Partition", num: 1 }, { label: "Committed", num: 1 }, { label: "End offset", num: 1 }, { label: "Lag", num: 1 }, "Consumer"], rows, "no consumer group has committed offsets")
        );
      },
    };
  };

  views.users = function (main) {
    const list = h("div");
    main.append(h("h1", { text: "Users" }), list);
    return {
      async update() {
        let users;
        try {
          users = await api("GET", "/api/users");
        } catch (e) {
          if (e.status === 403) {
            replace(list, h("p", { class: "muted", text: "Only administrators can list users." }));
            return;
          }
          throw e;
        }
        const perms = await api("GET", "/api/permissions").catch(() => []);
        replace(
          list,
          table(
            ["Name", "Tags", "Login from", "Permissions (configure / write / read)"],
            users.map((u) =>
              h(
                "tr",
                { "data-user": u.name },
                h("td", { text: u.name }),
                h("td", {}, (u.tags || []).map((t) => h("span", { class: "tag", text: t }))),
                h("td", { text: u.loopback_only ? "loopback only" : "anywhere" }),
                h("td", {}, perms.filter((p) => p.user === u.name).map((p) => h("div", { text: p.vhost + ": " + p.configure + " / " + p.write + " / " + p.read })))
              )
            )
          )
        );
      },
    };
  };

  // ------------------------------------------------------------------ routing

  function route() {
    const parts = (location.hash.replace(/^#\/?/, "") || "overview").split("/").map(decodeURIComponent);
    const name = views[parts[0]] ? parts[0] : "overview";
    const main = $("#main");
    main.replaceChildren();
    const navName = { queue: "queues", topic: "topics" }[name] || name;
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === navName));
    current = views[name](main, parts.slice(1));
    refresh();
  }

  async function refresh() {
    clearTimeout(timer);
    const view = current;
    if (!view || !me) return;
    // A modal confirmation is open: the rows it refers to must not change under it.
    if (!$("#confirm").open) {
      try {
        await view.update();
        document.body.dataset.loaded = String(Date.now());
        const err = $("#main > .error.refresh");
        if (err) err.remove();
      } catch (e) {
        if (view === current && !(e.status === 401)) {
          const main = $("#main");
          const old = main.querySelector(".error.refresh");
          if (old) old.remove();
          const note = errorNote(e);
          note.classList.add("refresh");
          main.prepend(note);
        }
      }
    }
    if (view === current) timer = setTimeout(refresh, REFRESH_MS);
  }

  // ------------------------------------------------------------------ login

  function showLogin(message) {
    $("#app").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = message || "";
    $("#username").focus();
  }

  function logout(message) {
    me = null;
    auth = null;
    current = null;
    clearTimeout(timer);
    sessionStorage.removeItem("trident.auth");
    showLogin(message);
  }

  async function start() {
    try {
      me = await api("GET", "/api/whoami");
    } catch (e) {
      me = null;
      sessionStorage.removeItem("trident.auth");
      showLogin(e.status === 401 ? "Login failed: " + e.message : e.message);
      return;
    }
    sessionStorage.setItem("trident.auth", auth);
    $("#whoami").textContent = me.name + " (" + (me.tags || []).join(", ") + ")";
    $("#login").hidden = true;
    $("#app").hidden = false;
    route();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      auth = utf8base64($("#username").value + ":" + $("#password").value);
      $("#password").value = "";
      start();
    });
    $("#logout").addEventListener("click", () => logout("Logged out."));
    window.addEventListener("hashchange", () => me && route());
    if (auth) start();
    else showLogin();
  });
})();

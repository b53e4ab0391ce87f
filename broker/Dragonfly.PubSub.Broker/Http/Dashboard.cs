namespace Dragonfly.PubSub.Broker.Http;

/// <summary>The self-contained dashboard page; it polls the JSON API every 2 s.</summary>
internal static class Dashboard
{
    public const string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dfbroker</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  #status { color: #666; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { background: #f4f4f4; }
  tr.task { cursor: pointer; }
  tr.task:hover { background: #f9f9f9; }
  code { font-size: 12px; }
  .bar { background: #eee; width: 120px; height: 10px; display: inline-block; vertical-align: middle; }
  .bar > span { background: #3a7; height: 10px; display: block; }
  .pub { color: #a60; font-weight: 600; }
  .err { color: #b00; }
  .insecure { background: #fdd; color: #900; border: 1px solid #b00; padding: .4rem .6rem; margin-bottom: .8rem; font-weight: 600; }
</style>
</head>
<body>
<h1>Dragonfly.PubSub broker</h1>
<!--tls-->
<div id="status">loading…</div>
<h2>Tasks</h2>
<table>
  <thead><tr><th>name</th><th>topic</th><th>digest</th><th>size</th><th>pieces</th><th>peers</th><th>seeders</th><th>created</th></tr></thead>
  <tbody id="tasks"></tbody>
</table>
<h2>Preheat jobs</h2>
<table>
  <thead><tr><th>job</th><th>image</th><th>platforms</th><th>topic</th><th>state</th><th>blobs</th><th>created</th></tr></thead>
  <tbody id="preheat"></tbody>
</table>
<h2 id="peers-title">Peers</h2>
<table>
  <thead><tr><th>peer</th><th>address</th><th>cluster/zone</th><th>progress</th><th>parents</th><th>children</th></tr></thead>
  <tbody id="peers"></tbody>
</table>
<script>
let selected = null;
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
const size = n => { const u = ["B","KiB","MiB","GiB","TiB"]; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; };
async function getJson(url) { const r = await fetch(url); if (!r.ok) throw new Error(url + ": HTTP " + r.status); return r.json(); }
async function refresh() {
  try {
    const [status, tasks, jobs] = await Promise.all([getJson("/api/v1/status"), getJson("/api/v1/tasks"), getJson("/api/v1/preheat")]);
    document.getElementById("status").textContent =
      `${status.brokerId} · ${status.peers} peer(s) connected · ${status.tasks} active swarm(s) · ${status.tls ? "TLS on · mqtts " + status.mqttsPort : "mqtt " + status.mqttPort} · grpc ${status.grpcPort} · http ${status.httpPort}`;
    if (!selected && tasks.length) selected = tasks[0].digest;
    document.getElementById("tasks").innerHTML = tasks.map(t =>
      `<tr class="task" data-digest="${esc(t.digest)}"${t.digest === selected ? ' style="background:#eef"' : ""}>` +
      `<td>${esc(t.name)}</td><td>${esc(t.topic)}</td><td><code>${esc(t.digest.slice(0, 19))}…</code></td>` +
      `<td>${size(t.size)}</td><td>${t.pieceCount}</td><td>${t.peers}</td><td>${t.seeders}</td>` +
      `<td>${esc(new Date(t.createdAt).toLocaleString())}</td></tr>`).join("") ||
      '<tr><td colspan="8">no task published yet</td></tr>';
    document.getElementById("preheat").innerHTML = jobs.slice(0, 20).map(j => {
      const done = j.blobs.filter(b => b.state === "succeeded").length;
      const bytes = j.blobs.reduce((n, b) => n + b.size, 0);
      return `<tr><td><code>${esc(j.id)}</code></td><td>${esc(j.image)}</td><td>${esc(j.platforms.join(", "))}</td>` +
        `<td>${esc(j.topic)}</td><td${j.state === "failed" ? ' class="err"' : ""}>${esc(j.state)}${j.error ? ": " + esc(j.error) : ""}</td>` +
        `<td>${done}/${j.blobs.length} (${size(bytes)})</td><td>${esc(new Date(j.createdAt).toLocaleString())}</td></tr>`;
    }).join("") || '<tr><td colspan="7">no preheat job yet</td></tr>';
    document.querySelectorAll("tr.task").forEach(r => r.onclick = () => { selected = r.dataset.digest; refresh(); });
    if (selected) {
      const detail = await getJson("/api/v1/tasks/" + encodeURIComponent(selected));
      document.getElementById("peers-title").textContent = `Peers of ${detail.name}`;
      document.getElementById("peers").innerHTML = detail.peers.map(p => {
        const pct = p.totalPieces ? Math.round(100 * p.completedPieces / p.totalPieces) : 100;
        return `<tr><td>${p.publisher ? '<span class="pub">' + esc(p.peerId) + ' (publisher)</span>' : esc(p.peerId)}</td>` +
          `<td>${esc(p.host)}:${p.port}</td><td>${esc(p.cluster)}${p.zone ? "/" + esc(p.zone) : ""}</td>` +
          `<td><span class="bar"><span style="width:${pct}%"></span></span> ${p.completedPieces}/${p.totalPieces}</td>` +
          `<td>${p.parents.map(esc).join(", ")}</td><td>${p.children}</td></tr>`;
      }).join("") || '<tr><td colspan="6">no peer in this swarm</td></tr>';
    }
  } catch (e) {
    document.getElementById("status").innerHTML = '<span class="err">' + esc(e.message) + "</span>";
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
""";

    /// <summary>The page, with a red banner when the broker runs with --insecure.</summary>
    public static string Page(bool tls) => tls
        ? Html
        : Html.Replace("<!--tls-->", "<div class=\"insecure\" id=\"insecure\">running WITHOUT TLS (--insecure): every port is plain text and unauthenticated</div>", StringComparison.Ordinal);
}

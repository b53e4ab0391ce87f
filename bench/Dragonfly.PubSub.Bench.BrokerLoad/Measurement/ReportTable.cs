using System.Globalization;
using System.Text;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>The report as a table for people.</summary>
internal static class ReportTable
{
    public static string Format(BrokerLoadReport r)
    {
        var s = r.Settings;
        var text = new StringBuilder();
        void Row(string name, string value) => text.Append(CultureInfo.InvariantCulture, $"  {name,-34} {value}\n");
        static string Ms(double value) => value.ToString(value < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms";
        static string MiB(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
        static string Lat(LatencySummary l) => l.Count == 0
            ? "no samples"
            : $"p50 {Ms(l.P50Ms)}  p90 {Ms(l.P90Ms)}  p99 {Ms(l.P99Ms)}  max {Ms(l.MaxMs)}  (n={l.Count})";
        static string AtMost(double? ms) => ms is double v ? (double.IsInfinity(v) ? "> last bucket" : "≤ " + Ms(v)) : "n/a";
        static string ServerLatency(ServerComputeFigures f) => f.Count == 0
            ? "not measured (a broker without dragonfly_broker_schedule_latency_seconds)"
            : $"mean {Ms(f.MeanMs)}  p50 {AtMost(f.P50MsAtMost)}  p99 {AtMost(f.P99MsAtMost)}  (n={f.Count})";

        text.Append(CultureInfo.InvariantCulture,
            $"dfbench broker: {s.Brokers} broker(s), {s.Agents} agents over {s.Tasks} task(s) ({s.PublishersPerTask} publisher(s) each), {s.Pieces} pieces, fill {s.Fill:0.##}, {s.DurationSeconds:0} s load\n");
        text.Append(CultureInfo.InvariantCulture,
            $"  NeedParents every {s.NeedIntervalSeconds:0.##}–{2 * s.NeedIntervalSeconds:0.##} s per agent ({s.NeedParentsPerSecondOffered:0}/s), sent on schedule, timeout {s.TimeoutSeconds:0.#} s; {s.GrpcChannels} gRPC channels; ulimit -n {s.MaxOpenFiles}\n");
        text.Append(CultureInfo.InvariantCulture,
            $"  piece reports: {s.PieceReportsPerSecondPerAgent:0.###}/s per agent, {s.PieceReportsPerSecondOffered:0}/s offered ({s.ReportRateDerivation}); piece news: {(s.PieceNews == "peer" ? "peer to peer (agents poll their parents' piece maps; the broker relays none)" : "relayed by the broker")}\n");
        text.Append(CultureInfo.InvariantCulture, $"  dfbroker {string.Join(' ', s.BrokerArguments)}\n");
        text.Append(CultureInfo.InvariantCulture, $"  load average at start: {r.LoadAverageAtStart}; at the end of the load: {r.LoadAverageAtEnd}\n");
        Row("scheduler streams connected", $"{r.Setup.ConnectedAgents}/{s.Agents} in {r.Setup.SchedulerConnectSeconds:0.00} s");
        Row("MQTT clients connected", $"{r.Setup.MqttConnected}/{s.Agents} in {r.Setup.MqttConnectSeconds:0.00} s; {r.Setup.MqttConnectedAtEnd} still connected after the load, {r.Setup.MqttPingsAnswered} keep-alive pings answered{(r.Setup.MqttDisconnectReason is { } why ? $" (lost: {why})" : "")}");
        Row("join → ParentSet (set-up)", Lat(r.Setup.JoinLatency));
        Row("NeedParents → ParentSet (load)", Lat(r.Schedule.Latency));
        Row("  of which answered in time", $"{r.Schedule.Answered}: {Lat(r.Schedule.AnsweredLatency)}");
        Row("requests due", $"{r.Schedule.RequestsPerSecond:0}/s: {r.Schedule.Requests} sent, {r.Schedule.Skipped} not sent (stream gone or bench behind), {r.Schedule.Late} late, {r.Schedule.Unanswered} unanswered (each counted as {Ms(s.TimeoutSeconds * 1000)})");
        Row("bench send lag (inside the latency)", Lat(r.Schedule.SendLag));
        Row("pushed ParentSets (no request id)", $"{r.Schedule.Unsolicited}; answers to unknown ids: {r.Schedule.UnknownAnswers}");
        Row("pieces reported / PieceAvailable", $"{r.Schedule.PiecesReported} ({r.Schedule.PieceReportsPerSecond:0}/s) / {r.Schedule.PieceAvailableReceived} ({r.Schedule.PieceAvailablePerSecond:0}/s) news of one parent, in {r.Schedule.PieceAvailableEvents} events ({r.Schedule.PieceAvailableEventsPerSecond:0}/s)");
        Row("streams dropped during load", r.Schedule.StreamsFailed.ToString(CultureInfo.InvariantCulture));
        Row("server compute per ParentSet", $"mean {Ms(r.ServerCompute.MeanMs)}  p50 {AtMost(r.ServerCompute.P50MsAtMost)}  p99 {AtMost(r.ServerCompute.P99MsAtMost)}  (n={r.ServerCompute.Count}, {r.ServerCompute.BusySeconds:0.00} s busy)");
        Row("  inside the broker: queued", ServerLatency(r.ServerLatency.Queued));
        Row("  inside the broker: written", ServerLatency(r.ServerLatency.Written));
        Row("announcement → all subscribers", r.Announcement switch
        {
            null => "not measured (several brokers announce through an external MQTT broker, --mqtt-url)",
            { Received: 0 } a => $"0/{a.Subscribers} received",
            var a => $"{a.Received}/{a.Subscribers}: first {Ms(a.FirstMs)}  p50 {Ms(a.P50Ms)}  p99 {Ms(a.P99Ms)}  all {Ms(a.AllMs)}",
        });
        var several = r.Brokers.Count > 1;
        Row(several ? "brokers' RSS idle / end / peak (sum)" : "broker RSS idle / end / peak", $"{MiB(r.Broker.IdleRssBytes)} / {MiB(r.Broker.RssBytes)} / {MiB(r.Broker.PeakRssBytes)} (VmHWM)");
        Row(several ? "brokers' CPU during load (sum)" : "broker CPU during load", $"{r.Broker.CpuSecondsDuringLoad:0.0} s of {s.DurationSeconds * Environment.ProcessorCount:0} core-seconds; {r.Broker.OutputLines} log lines");
        Row("GC pauses during load", $"{(several ? "brokers" : "broker")} {Ms(r.Broker.GcPauseSeconds * 1000)} ({r.Broker.Gen2Collections} full); bench {Ms(r.Bench.GcPauseSeconds * 1000)} ({r.Bench.Gen2Collections} full)");
        if (r.BenchCollections is { } gcs)
        {
            var region = gcs.NoGcRegionBytes == 0
                ? "collecting as usual (no no-GC region)"
                : $"{(gcs.NoGcRegionHeld ? "no-GC region held" : "no-GC region exceeded")} ({MiB(gcs.NoGcRegionBytes)} set aside)";
            var collections = string.Join("; ", gcs.Generations.Where(g => g.Count > 0).Select(g =>
                $"gen{g.Generation} {g.Count} × p50 {Ms(g.Pauses.P50Ms)} p99 {Ms(g.Pauses.P99Ms)} max {Ms(g.Pauses.MaxMs)} = {Ms(g.TotalPauseMs)}"))
                + (gcs.Missed > 0 ? $"; {gcs.Missed} unseen" : "");
            Row("  bench collections", $"{region}; {(collections.Length > 0 ? collections : "none")}");
        }
        if (several)
        {
            foreach (var b in r.Brokers)
            {
                Row($"broker {b.Index} ({b.Name}, pid {b.Pid})", $"{b.Tasks} task(s), {b.Connected}/{b.Agents} agents; {Lat(b.Latency)}");
                Row("", $"RSS idle / end / peak {MiB(b.Resources.IdleRssBytes)} / {MiB(b.Resources.RssBytes)} / {MiB(b.Resources.PeakRssBytes)}; CPU {b.Resources.CpuSecondsDuringLoad:0.0} s; compute mean {Ms(b.ServerCompute.MeanMs)}");
            }
            if (r.Redis is { } redis)
            {
                Row("redis-server RSS / CPU during load", $"{MiB(redis.RssBytes)} / {redis.CpuSecondsDuringLoad:0.0} s");
            }
        }
        Row("bench RSS peak / CPU during load", $"{MiB(r.Bench.PeakRssBytes)} / {r.Bench.CpuSecondsDuringLoad:0.0} s (same machine)");
        if (r.Dashboard is { } d)
        {
            Row("dashboard readers during load", $"{d.Pollers} polling each second, {d.Streams} event streams: {d.Polls} polls ({Lat(d.PollLatency)}), {d.Events} events, {d.Failures} failures, {d.BytesPerSecond / 1024:0} KiB/s");
        }
        Row($"target: schedule p99 ≤ {r.Target.ScheduleP99Ms:0} ms", r.Target.Met ? "met" : $"MISSED ({Ms(r.Schedule.Latency.P99Ms)})");
        return text.ToString();
    }
}

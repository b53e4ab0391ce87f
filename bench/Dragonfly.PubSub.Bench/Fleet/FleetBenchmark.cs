using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Fleet;

/// <summary>
/// Publishes a test artifact of random bytes into a running deployment through a temporary publishing agent,
/// waits until the subscribed agents hold it (the broker's swarm view), reports the distribution figures, and
/// removes what it made here: the publishing agent (stopped by PID) and the test file. The broker's catalogue,
/// the topic's retained announcement and the agents' copies stay (the API has no delete; see <see cref="Leaves"/>).
/// </summary>
internal sealed class FleetBenchmark(FleetOptions options, Action<string> say)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    public string Leaves(string name) =>
        $"removed the publishing agent and the test file; left: the manifest in the broker's catalogue, the retained announcement on " +
        $"'{options.Topic}' (the topic's latest until the next publish), and '{name}' in each subscribed agent's <output-dir>/{options.Topic}/ " +
        "and content store (its --cache-size eviction reclaims the store's copy; delete the output files yourself)";

    public async Task<FleetReport> RunAsync(CancellationToken cancel)
    {
        using var api = new FleetApi(options);
        var status = await api.StatusAsync(cancel);
        if (status.Tls != options.Secure)
        {
            throw UserFacingException.Usage(status.Tls
                ? $"the broker runs with TLS; use --broker https://{options.Broker.Authority} with --ca"
                : $"the broker runs with --insecure; use --broker http://{options.Broker.Authority}");
        }
        var expected = options.Agents ?? await api.SubscribersAsync(options.Topic, cancel);
        if (expected < 1)
        {
            throw new UserFacingException($"no online agent subscribes to '{options.Topic}'; start agents with --subscribe {options.Topic} (or a filter matching it), or give --agents N", ExitCodes.Failed);
        }
        var work = Directory.CreateTempSubdirectory("dfbench-fleet-").FullName;
        try
        {
            var name = $"dfbench-fleet-{DateTimeOffset.UtcNow:yyyyMMddTHHmmss}.bin";
            var file = Path.Combine(work, name);
            await WriteRandomAsync(file, options.Size, cancel);
            say($"broker {status.BrokerId}: {expected} agent(s) subscribe to {options.Topic}; publishing {name} ({options.Size} bytes)…");
            await using var publisher = await PublisherAgent.StartAsync(options, status, Path.Combine(work, "publisher"), Path.Combine(work, "publisher.log"), cancel);
            var digest = await publisher.PublishAsync(file, options.Topic, cancel);
            say($"published {digest} from {publisher.PeerId}; waiting for {expected} agent(s) (at most {options.Timeout.TotalSeconds:0} s)…");
            var swarm = await WaitAsync(api, digest, publisher.PeerId, expected, cancel);
            var uploaded = await publisher.UploadedBytesAsync(cancel);
            return Report(status, digest, name, publisher.PeerId, expected, swarm, uploaded);
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>The swarm view once <paramref name="expected"/> agents other than the publisher hold every piece (or at the deadline).</summary>
    private async Task<JsonElement> WaitAsync(FleetApi api, string digest, string publisher, int expected, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + options.Timeout;
        JsonElement? last = null;
        while (true)
        {
            last = await api.SwarmAsync(digest, cancel) ?? last;
            var finished = last is { } view ? Finished(view, publisher).Count : 0;
            if (finished >= expected)
            {
                return await SettledAsync(api, digest, last!.Value, cancel);
            }
            if (DateTime.UtcNow >= deadline)
            {
                if (last is { } partial)
                {
                    say($"only {finished} of {expected} agents finished within {options.Timeout.TotalSeconds:0} s");
                    return partial;
                }
                throw new UserFacingException($"the broker never listed the swarm of {digest} within {options.Timeout.TotalSeconds:0} s", ExitCodes.Failed);
            }
            await Task.Delay(Poll, cancel);
        }
    }

    private FleetReport Report(BrokerStatus status, string digest, string name, string publisher, int expected, JsonElement swarm, double uploaded)
    {
        var announced = swarm.GetProperty("announcedAt").GetDateTimeOffset();
        var agents = swarm.GetProperty("members").EnumerateArray()
            .Where(m => m.GetProperty("peerId").GetString() != publisher && !m.GetProperty("publisher").GetBoolean())
            .Select(m => new FleetAgentTime(
                m.GetProperty("peerId").GetString() ?? "",
                m.GetProperty("cluster").GetString() ?? "",
                m.GetProperty("zone").GetString() ?? "",
                m.GetProperty("completedAt").ValueKind == JsonValueKind.String ? (m.GetProperty("completedAt").GetDateTimeOffset() - announced).TotalSeconds : null,
                m.GetProperty("seconds").ValueKind == JsonValueKind.Number ? m.GetProperty("seconds").GetDouble() : null,
                m.GetProperty("receivedBytes").GetInt64(),
                m.GetProperty("servedBytes").GetInt64()))
            .OrderBy(a => a.CompletionSeconds ?? double.MaxValue)
            .ToList();
        var completion = agents.Where(a => a.CompletionSeconds is not null).Select(a => a.CompletionSeconds!.Value).Order().ToList();
        var finished = completion.Count;
        List<string> notes = [];
        if (finished < expected)
        {
            notes.Add($"only {finished} of {expected} agents finished within {options.Timeout.TotalSeconds:0} s");
        }
        return new FleetReport
        {
            Date = DateTimeOffset.UtcNow,
            Broker = options.Broker.ToString(),
            BrokerId = status.BrokerId,
            Tls = status.Tls,
            Topic = options.Topic,
            Digest = digest,
            Name = name,
            SizeBytes = options.Size,
            Agents = expected,
            Finished = finished,
            CompletionSeconds = completion,
            AllFinishedSeconds = completion.Count == 0 ? double.NaN : completion.Max(),
            P50Seconds = completion.Count == 0 ? double.NaN : Statistics.Percentile(completion, 50),
            P99Seconds = completion.Count == 0 ? double.NaN : Statistics.Percentile(completion, 99),
            OriginEgressRatio = uploaded / options.Size,
            BrokerOriginRatio = swarm.GetProperty("originBytes").GetInt64() / (double)options.Size,
            DeliveredBytes = swarm.GetProperty("deliveredBytes").GetInt64(),
            SavedBytes = swarm.GetProperty("savedBytes").GetInt64(),
            PerAgent = agents,
            Cleanup = Leaves(name),
            Notes = notes,
        };
    }

    /// <summary>
    /// The swarm once the finished agents' last piece reports are in too (a few seconds at most: an agent's join as a
    /// seeder can overtake them), so that their bytes are whole; as it is after 10 s otherwise.
    /// </summary>
    private async Task<JsonElement> SettledAsync(FleetApi api, string digest, JsonElement swarm, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline && swarm.GetProperty("members").EnumerateArray().Any(m =>
                   m.GetProperty("completedAt").ValueKind == JsonValueKind.String && !m.GetProperty("publisher").GetBoolean()
                   && m.GetProperty("receivedBytes").GetInt64() < options.Size))
        {
            await Task.Delay(Poll, cancel);
            swarm = await api.SwarmAsync(digest, cancel) ?? swarm;
        }
        return swarm;
    }

    private static List<string> Finished(JsonElement swarm, string publisher) =>
        [.. swarm.GetProperty("members").EnumerateArray()
            .Where(m => m.GetProperty("peerId").GetString() != publisher && !m.GetProperty("publisher").GetBoolean()
                && m.GetProperty("completedAt").ValueKind == JsonValueKind.String)
            .Select(m => m.GetProperty("peerId").GetString() ?? "")];

    /// <summary>Random bytes (a fresh digest every run, so no agent holds the artifact already).</summary>
    private static async Task WriteRandomAsync(string path, long size, CancellationToken cancel)
    {
        var buffer = new byte[1 << 20];
        await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
        for (long written = 0; written < size; written += buffer.Length)
        {
            Random.Shared.NextBytes(buffer);
            await stream.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)), cancel);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temp folder left behind is harmless.
        }
    }
}

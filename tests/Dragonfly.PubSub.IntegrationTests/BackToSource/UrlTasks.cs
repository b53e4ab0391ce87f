using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.CommandLine;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;

namespace Dragonfly.PubSub.IntegrationTests.BackToSource;

/// <summary>
/// <c>dfget URL</c> runs and the figures of a URL task: what the origin served, what the broker's
/// seed and the agents counted as origin bytes.
/// </summary>
public static class UrlTasks
{
    /// <summary>The most an origin may serve per swarm, as a multiple of the file size (performance.md).</summary>
    public const double MaxEgress = 1.02;

    public const string AgentDownloadBytes = "dragonfly_agent_download_bytes_total";
    public const string BrokerSourceBytes = "dragonfly_broker_source_bytes_total";

    /// <summary><c>dfget URL -O OUTPUT --data-dir &lt;agent&gt; EXTRA</c> through the agent's daemon.</summary>
    public static Task<CliResult> DfgetAsync(this TestCluster cluster, AgentProcess agent, Uri url, string output, params string[] extraArgs) =>
        cluster.DfgetAsync(agent, url, output, TestCluster.TransferTimeout, extraArgs);

    /// <summary>Like the other overload; a run that outlives <paramref name="timeout"/> is killed and fails the test.</summary>
    public static Task<CliResult> DfgetAsync(
        this TestCluster cluster, AgentProcess agent, Uri url, string output, TimeSpan timeout, params string[] extraArgs) =>
        cluster.RunCliAsync("dfget", [url.AbsoluteUri, "-O", output, "--data-dir", agent.DataDir, .. extraArgs], timeout);

    /// <summary><c>&lt;root&gt;/fetched/&lt;folder&gt;/&lt;name&gt;</c>: a folder of its own, so that leftovers of a failed run show.</summary>
    public static string OutputPath(this TestCluster cluster, string folder, string name) =>
        Path.Combine(Directory.CreateDirectory(Path.Combine(cluster.Root, "fetched", folder)).FullName, name);

    /// <summary>Exit code 0 and exactly <paramref name="expected"/> at <paramref name="output"/>.</summary>
    public static async Task AssertDownloadedAsync(CliResult result, string output, TestFile expected)
    {
        Assert.True(result.ExitCode == 0, $"dfget failed:\n{result}");
        Assert.True(File.Exists(output), $"dfget exited 0 but wrote no {output}:\n{result}");
        var hash = await TestFile.HashAsync(output);
        Assert.True(hash == expected.Sha256Hex, $"{output} has sha256 {hash}, expected {expected.Sha256Hex} ({expected.Size} bytes, got {new FileInfo(output).Length}):\n{result}");
    }

    /// <summary>The failure contract: the exit code, one line, and nothing at all in the output's folder (no partial file).</summary>
    public static void AssertFailedWithoutOutput(CliResult result, string output, int exitCode)
    {
        CliAssert.FailedWithOneLine(result, exitCode);
        var folder = Path.GetDirectoryName(output)!;
        var left = Directory.Exists(folder) ? Directory.GetFileSystemEntries(folder) : [];
        Assert.True(left.Length == 0, $"a failed dfget left {string.Join(", ", left)} behind:\n{result}");
    }

    /// <summary>The one JSON object <c>dfget --json</c> / <c>dfpub --json</c> printed.</summary>
    public static JsonElement Json(CliResult result)
    {
        var line = result.Stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith('{'))
            ?? throw new Xunit.Sdk.XunitException($"no JSON object on stdout:\n{result}");
        using var document = JsonDocument.Parse(line);
        return document.RootElement.Clone();
    }

    /// <summary>The <c>digest</c> (for a URL, the task id) of a <c>--json</c> result.</summary>
    public static string JsonDigest(CliResult result) =>
        Json(result).TryGetProperty("digest", out var digest) && digest.GetString() is { } text
            ? text
            : throw new Xunit.Sdk.XunitException($"the JSON on stdout has no digest:\n{result}");

    /// <summary>
    /// The origin served at least the file once (else the count is broken) and at most
    /// <see cref="MaxEgress"/> times it.
    /// </summary>
    public static void AssertOriginEgress(TestCluster cluster, string origin, long served, long size)
    {
        cluster.Log($"{origin} served {served} bytes = {Ratio(served, size)} x the file of {size} bytes");
        Assert.True(served >= size, $"{origin} served {served} bytes, less than the file ({size}): the egress count is broken");
        Assert.True(served <= MaxEgress * size,
            $"{origin} served {served} bytes = {Ratio(served, size)} x the file; at most {MaxEgress} x {size} allowed (one copy per swarm)");
    }

    /// <summary>
    /// Bytes the agent fetched from origins since it started (the <c>source="source"</c> counter, which
    /// every agent exports from the start: a missing series fails, so a renamed metric cannot pass as 0).
    /// </summary>
    public static async Task<double> SourceBytesAsync(AgentProcess agent) =>
        (await agent.GetMetricsAsync()).Require(AgentDownloadBytes, ("source", "source"));

    /// <summary>
    /// The broker's seed fetched the file (its source counter is about the file size) and none of
    /// <paramref name="agents"/> went to the origin.
    /// </summary>
    public static async Task AssertSeedFetchedAsync(TestCluster cluster, IEnumerable<AgentProcess> agents, long size)
    {
        var seed = (await cluster.Broker.GetMetricsAsync()).Require(BrokerSourceBytes);
        cluster.Log($"broker {BrokerSourceBytes} = {seed} = {Ratio(seed, size)} x the file");
        Assert.True(seed >= size && seed <= MaxEgress * size,
            $"{BrokerSourceBytes} is {seed} = {Ratio(seed, size)} x the file; expected between 1 and {MaxEgress} x {size}");
        var perAgent = new List<string>();
        double total = 0;
        foreach (var agent in agents)
        {
            var bytes = await SourceBytesAsync(agent);
            total += bytes;
            perAgent.Add($"{agent.Name}={bytes}");
        }
        cluster.Log($"agents' origin bytes: {string.Join(", ", perAgent)}");
        Assert.True(total == 0, $"agents went to the origin although the seed was there: {string.Join(", ", perAgent)}");
    }

    public static string Ratio(double bytes, long size) => (bytes / size).ToString("0.000", CultureInfo.InvariantCulture);
}

using System.Net.Http.Json;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's headless Chromium through Playwright): a broker, a publisher and
/// two subscribers in two zones, a live swarm; the page must show it, and once it is done its numbers must be
/// the API's. Screenshots of the live and the finished swarm are kept under the test's output directory.
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private const string Topic = "dash/app";

    /// <summary>What the page shows, read from its DOM (the data-* attributes hold the raw numbers).</summary>
    private const string ReadPage = """
        () => ({
          generatedAt: document.body.dataset.generatedAt ?? "",
          agentsOnline: Number(document.getElementById("agents-online").dataset.value || -1),
          swarmName: document.getElementById("swarm-name")?.textContent ?? "",
          delivered: Number(document.getElementById("swarm-delivered")?.dataset.value ?? -1),
          origin: Number(document.getElementById("swarm-origin")?.dataset.value ?? -1),
          saved: Number(document.getElementById("swarm-saved")?.dataset.value ?? -1),
          members: [...document.querySelectorAll("#swarm-members tr[data-peer]")].map(r =>
            r.dataset.peer + " held=" + r.dataset.held + " received=" + r.dataset.received + " served=" + r.dataset.served).sort(),
          edges: [...document.querySelectorAll("#swarm-graph line.edge")].map(e => e.dataset.from + ">" + e.dataset.to).sort(),
          versions: [...document.querySelectorAll("#agents tr[data-peer]")].map(r => r.dataset.peer + "=" + r.querySelector(".agent-version").dataset.version).sort(),
          subscribers: Number(document.querySelector('#topics tr[data-topic="dash/app"]')?.dataset.subscribers ?? -1),
        })
        """;

    [Fact]
    public Task LiveSwarm_IsRendered_AndThePageShowsTheApisNumbers() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var creating = cluster.CreateFileAsync("dash-48m.bin", 48 * MiB, seed: 13);
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: ["--cluster", "dc1", "--zone", "a"]);
        // Slow links keep the swarm live for a few seconds, long enough to see it move.
        var subscribers = await Task.WhenAll(
            cluster.StartAgentAsync("sub-1", [Topic], ["--cluster", "dc1", "--zone", "a", "--download-limit", "8MiB"]),
            cluster.StartAgentAsync("sub-2", [Topic], ["--cluster", "dc1", "--zone", "b", "--download-limit", "8MiB"]));
        var file = await creating;
        await using var chromium = await HeadlessChromium.StartAsync();
        var page = await chromium.Context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, message) => errors.Add(message);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };

        await page.GotoAsync(broker.HttpUrl.ToString());
        await page.Locator("#tasks").GetByText("no task published yet").WaitForAsync(new() { Timeout = 30_000 });
        await cluster.PublishAsync(publisher, file, Topic);
        await page.GotoAsync(new Uri(broker.HttpUrl, "/?task=" + Uri.EscapeDataString(file.Digest)).ToString());

        // The live swarm: its row, its three members, and lines of who serves whom.
        await page.Locator($"tr.task[data-digest=\"{file.Digest}\"]").WaitForAsync(new() { Timeout = 30_000 });
        await Wait.UntilAsync("the page to list the swarm's three members", TimeSpan.FromSeconds(30),
            async () => await page.Locator("#swarm-members tr[data-peer]").CountAsync() >= 3);
        // A moment with bytes moving (the subscribers need about 6 s at 8 MiB/s), for the first screenshot.
        await Wait.UntilAsync("the page to show bytes delivered", TimeSpan.FromSeconds(60),
            async () => (await ReadAsync(page)).GetProperty("delivered").GetDouble() > 0);
        var live = await ReadAsync(page);
        cluster.Log($"page during the swarm: {live}");
        await ScreenshotAsync(page, "dashboard-live");

        await cluster.WaitForFileOnAllAsync(subscribers, Topic, file);
        // Complete, and every piece's report in: an agent's join as a seeder may overtake its last pieces' report.
        await Wait.UntilAsync("the broker to have both subscribers' every piece", TimeSpan.FromSeconds(30), async () =>
        {
            var view = await broker.Http.GetFromJsonAsync<JsonElement>($"api/v1/tasks/{file.Digest}/swarm");
            return view.GetProperty("members").EnumerateArray().Count(m => !m.GetProperty("publisher").GetBoolean()
                && m.GetProperty("completedAt").ValueKind == JsonValueKind.String) == 2
                && view.GetProperty("deliveredBytes").GetInt64() == 2 * file.Size;
        });

        // What the broker learnt from the agents' reports: every byte the subscribers got, and from whom.
        var (lastShown, lastExpected) = ("", "");
        var api = await Wait.ForAsync("the page to show the API's view of the finished swarm", TimeSpan.FromSeconds(30), async () =>
        {
            var shown = await ReadAsync(page);
            var view = await broker.Http.GetFromJsonAsync<JsonElement>($"api/v1/dashboard?task={file.Digest}");
            (lastShown, lastExpected) = (shown.GetRawText(), Expected(view));
            // A view built before the last report (cached up to a second) is not the finished swarm yet.
            var whole = view.GetProperty("swarm").GetProperty("deliveredBytes").GetInt64() == 2 * file.Size;
            return whole && Same(shown, lastExpected) ? view.GetRawText() : null;
        }, describe: () => $"the page shows {lastShown}\nthe API says {lastExpected}");
        cluster.Log($"page and API agree: {lastShown}");
        await ScreenshotAsync(page, "dashboard");

        var view = JsonDocument.Parse(api).RootElement;
        var delivered = view.GetProperty("swarm").GetProperty("deliveredBytes").GetInt64();
        Assert.Equal(2 * file.Size, delivered);
        var edges = view.GetProperty("swarm").GetProperty("edges").EnumerateArray().ToList();
        var members = view.GetProperty("swarm").GetProperty("members").EnumerateArray().ToDictionary(m => m.GetProperty("peerId").GetString()!);
        Assert.Equal(delivered, edges.Sum(e => e.GetProperty("bytes").GetInt64()));
        Assert.All(edges, e => Assert.Contains(e.GetProperty("from").GetString()!, members.Keys));
        // Only the publisher had the pieces at first: each left it at least once.
        var servedByPublisher = members[publisher.Info.PeerId].GetProperty("servedBytes").GetInt64();
        Assert.InRange(servedByPublisher, file.Size, 2 * file.Size);
        Assert.Equal(servedByPublisher, view.GetProperty("swarm").GetProperty("originBytes").GetInt64());
        Assert.Equal(delivered - servedByPublisher, view.GetProperty("swarm").GetProperty("savedBytes").GetInt64());
        foreach (var subscriber in subscribers)
        {
            var member = members[subscriber.Info.PeerId];
            Assert.Equal(file.Size, member.GetProperty("receivedBytes").GetInt64());
            Assert.True(member.GetProperty("seconds").GetDouble() > 0);
        }
        var agents = view.GetProperty("fleet").GetProperty("agents").EnumerateArray().ToDictionary(a => a.GetProperty("peerId").GetString()!);
        Assert.All(new[] { publisher }.Concat(subscribers), a => Assert.NotEqual("", agents[a.Info.PeerId].GetProperty("version").GetString()));
        var zones = view.GetProperty("fleet").GetProperty("groups").EnumerateArray()
            .Where(g => g.GetProperty("cluster").GetString() == "dc1")
            .ToDictionary(g => g.GetProperty("zone").GetString()!, g => g.GetProperty("online").GetInt32());
        Assert.Equal(new Dictionary<string, int> { ["a"] = 2, ["b"] = 1 }, zones);
        var topic = view.GetProperty("topics").EnumerateArray().Single(t => t.GetProperty("topic").GetString() == Topic);
        Assert.Equal((2, file.Name), (topic.GetProperty("subscribers").GetInt32(), topic.GetProperty("latestName").GetString()));
        Assert.True(errors.Count == 0, $"the page logged errors: {string.Join("; ", errors)}");
    });

    private static async Task<JsonElement> ReadAsync(IPage page) => await page.EvaluateAsync<JsonElement>(ReadPage);

    /// <summary>The page's figures as the API's view says they must be.</summary>
    private static string Expected(JsonElement view)
    {
        var swarm = view.GetProperty("swarm");
        var members = swarm.GetProperty("members").EnumerateArray()
            .Select(m => $"{m.GetProperty("peerId").GetString()} held={m.GetProperty("held").GetInt32()} received={m.GetProperty("receivedBytes").GetInt64()} served={m.GetProperty("servedBytes").GetInt64()}")
            .Order(StringComparer.Ordinal);
        var edges = swarm.GetProperty("edges").EnumerateArray()
            .Select(e => $"{e.GetProperty("from").GetString()}>{e.GetProperty("to").GetString()}").Order(StringComparer.Ordinal);
        var versions = view.GetProperty("fleet").GetProperty("agents").EnumerateArray()
            .Select(a => $"{a.GetProperty("peerId").GetString()}={a.GetProperty("version").GetString()}").Order(StringComparer.Ordinal);
        var topic = view.GetProperty("topics").EnumerateArray().FirstOrDefault(t => t.GetProperty("topic").GetString() == Topic);
        return JsonSerializer.Serialize(new
        {
            agentsOnline = view.GetProperty("fleet").GetProperty("online").GetInt32(),
            swarmName = swarm.GetProperty("name").GetString(),
            delivered = swarm.GetProperty("deliveredBytes").GetInt64(),
            origin = swarm.GetProperty("originBytes").GetInt64(),
            saved = swarm.GetProperty("savedBytes").GetInt64(),
            members,
            edges,
            versions,
            subscribers = topic.ValueKind == JsonValueKind.Object ? topic.GetProperty("subscribers").GetInt32() : -1,
        });
    }

    private static bool Same(JsonElement shown, string expected)
    {
        using var wanted = JsonDocument.Parse(expected);
        return wanted.RootElement.EnumerateObject().All(p => shown.TryGetProperty(p.Name, out var value) && Canonical(value) == Canonical(p.Value));
    }

    /// <summary>A value as text, whatever escaping or number format the serializer that wrote it chose.</summary>
    private static string Canonical(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "\"" + value.GetString() + "\"",
        JsonValueKind.Number => value.GetDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        JsonValueKind.Array => "[" + string.Join(",", value.EnumerateArray().Select(Canonical)) + "]",
        JsonValueKind.Object => "{" + string.Join(",", value.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Name + ":" + Canonical(p.Value))) + "}",
        _ => value.GetRawText(),
    };

    private async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{name}-{(TlsMode.Insecure ? "insecure" : "tls")}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }
}

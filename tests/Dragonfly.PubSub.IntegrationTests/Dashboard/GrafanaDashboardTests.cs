using System.Text.Json;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Dashboard;

/// <summary>
/// deploy/grafana/dragonfly.json against what a real broker and real agents export: every metric its queries
/// name is one they export (scraped after a transfer), or, for a labelled series that appears only with its
/// first event (a refused TLS handshake), one the code declares; and every dragonfly_ family they export has
/// a panel.
/// </summary>
public sealed partial class GrafanaDashboardTests(ITestOutputHelper output)
{
    private static readonly string DashboardFile = Path.Combine(Product.RepoRoot, "deploy", "grafana", "dragonfly.json");

    [Fact]
    public Task EveryQueriedMetric_IsExported_AndEveryExportedFamilyHasAPanel() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscriber = await cluster.StartAgentAsync("sub", ["grafana/app"]);
        var file = await cluster.CreateFileAsync("grafana.bin", 4 * MiB, seed: 21);
        await cluster.PublishAsync(publisher, file, "grafana/app");
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf("grafana/app", file.Name), file, TestCluster.TransferTimeout);

        var scraped = new Scrape();
        scraped.Add(await broker.Http.GetStringAsync("metrics"));
        scraped.Add(await publisher.Http.GetStringAsync("metrics"));
        scraped.Add(await subscriber.Http.GetStringAsync("metrics"));
        var declared = Declarations();
        var dashboard = Panels(JsonDocument.Parse(await File.ReadAllTextAsync(DashboardFile)).RootElement).ToList();
        Assert.NotEmpty(dashboard);

        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (title, expr) in dashboard)
        {
            foreach (Match name in MetricName().Matches(expr))
            {
                used.Add(name.Value);
                var family = Family(name.Value);
                Assert.True(scraped.Samples.Contains(name.Value) || declared.Contains(family),
                    $"panel '{title}' queries {name.Value}, which neither the broker nor the agents export, and no Metrics.Create* in the code declares {family}");
            }
        }
        var missing = scraped.Families.Where(f => f.StartsWith("dragonfly_", StringComparison.Ordinal) && !used.Any(u => Family(u) == f)).Order().ToList();
        Assert.True(missing.Count == 0, $"exported but on no panel of {DashboardFile}: {string.Join(", ", missing)}; add a panel (or a target) for each");
        cluster.Log($"{dashboard.Count} queries over {used.Count} metric names; {scraped.Families.Count} families scraped");
    });

    [Fact]
    public void Dashboard_IsImportable_WithUniquePanelIdsAndTheDataSourceVariable()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(DashboardFile));
        var root = document.RootElement;
        Assert.Equal("dragonfly-pubsub", root.GetProperty("uid").GetString());
        var variable = root.GetProperty("templating").GetProperty("list").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "datasource");
        Assert.Equal(("datasource", "prometheus"), (variable.GetProperty("type").GetString(), variable.GetProperty("query").GetString()));
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        foreach (var panel in panels.Where(p => p.GetProperty("type").GetString() != "row"))
        {
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.NotEmpty(panel.GetProperty("targets").EnumerateArray());
        }
    }

    /// <summary>(panel title, query) of every target, rows' nested panels included.</summary>
    private static IEnumerable<(string Title, string Expr)> Panels(JsonElement root)
    {
        foreach (var panel in root.GetProperty("panels").EnumerateArray())
        {
            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in Panels(panel))
                {
                    yield return inner;
                }
            }
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }
            foreach (var target in targets.EnumerateArray())
            {
                yield return (panel.GetProperty("title").GetString()!, target.GetProperty("expr").GetString()!);
            }
        }
    }

    /// <summary>The metric families that a Metrics.Create* call in the repository's source declares.</summary>
    private static HashSet<string> Declarations()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in new[] { "broker", "agent", "lib" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Product.RepoRoot, folder), "*.cs", SearchOption.AllDirectories)
                         .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
            {
                foreach (Match declaration in Declaration().Matches(File.ReadAllText(file)))
                {
                    names.Add(declaration.Groups[1].Value);
                }
            }
        }
        Assert.Contains("dragonfly_broker_peers", names);
        return names;
    }

    /// <summary>A histogram's series name without its suffix.</summary>
    private static string Family(string name)
    {
        foreach (var suffix in (string[])["_bucket", "_sum", "_count"])
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
            {
                return name[..^suffix.Length];
            }
        }
        return name;
    }

    [GeneratedRegex(@"\b(?:dragonfly|process|dotnet)_[a-z0-9_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"Create(?:Counter|Gauge|Histogram|Summary)\(\s*""([a-z0-9_]+)""")]
    private static partial Regex Declaration();

    /// <summary>Sample names and family names (from # TYPE) of Prometheus text expositions.</summary>
    private sealed class Scrape
    {
        public HashSet<string> Samples { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Families { get; } = new(StringComparer.Ordinal);

        public void Add(string text)
        {
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
                {
                    Families.Add(line.Split(' ')[2]);
                }
                else if (line.Length > 0 && line[0] != '#')
                {
                    Samples.Add(line.Split('{', ' ')[0]);
                }
            }
        }
    }
}

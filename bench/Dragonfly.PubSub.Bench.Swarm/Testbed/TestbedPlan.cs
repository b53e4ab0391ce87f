using System.Globalization;

namespace Dragonfly.PubSub.Bench.Swarm.Testbed;

/// <summary>
/// The testbed as commands, without running them: a bridge in its own namespace
/// (<c>dfb-&lt;run&gt;-br</c>), one namespace per node (<c>dfb-&lt;run&gt;-&lt;n&gt;</c>) joined to it by a
/// veth pair, addresses from 10.213.0.0/16 that exist only inside these namespaces, and tbf on
/// both ends of every link so that each node's upload and download are capped at the rate.
/// </summary>
internal sealed record TestbedPlan(string RunId, int Nodes, LinkRate Rate)
{
    public const string Prefix = "dfb-";
    public const string NodeInterface = "eth0";
    private const string Bridge = "br0";
    private const int MaxNodes = 250;

    public string BridgeNamespace => $"{Prefix}{RunId}-br";

    public IEnumerable<string> AllNamespaces => Enumerable.Range(0, Nodes).Select(NodeNamespace).Append(BridgeNamespace);

    public string NodeNamespace(int node) => $"{Prefix}{RunId}-{Check(node)}";

    /// <summary>10.213.0.1 for node 0, 10.213.0.2 for node 1, ...: never an address outside the testbed.</summary>
    public string Address(int node) => string.Create(CultureInfo.InvariantCulture, $"10.213.{(Check(node) + 1) / 256}.{(node + 1) % 256}");

    /// <summary>The bridge-side end of node n's veth pair; its egress is the node's download.</summary>
    public static string BridgePort(int node) => $"p{node}";

    /// <summary>
    /// tbf's bucket must hold at least what the rate adds in one timer tick (HZ may be 100) and one
    /// 64 KiB GSO packet; the queue may hold 50 ms of traffic.
    /// </summary>
    public long BurstBytes => Math.Max(64 * 1024, (long)(Rate.BytesPerSecond / 100));

    public IReadOnlyList<string[]> SetupCommands()
    {
        if (Nodes is < 2 or > MaxNodes)
        {
            throw new ArgumentOutOfRangeException(nameof(Nodes), $"between 2 and {MaxNodes} nodes");
        }
        var br = BridgeNamespace;
        var commands = new List<string[]>
        {
            new[] { "ip", "netns", "add", br },
            new[] { "ip", "-n", br, "link", "set", "lo", "up" },
            new[] { "ip", "-n", br, "link", "add", Bridge, "type", "bridge" },
            new[] { "ip", "-n", br, "link", "set", Bridge, "up" },
        };
        for (var node = 0; node < Nodes; node++)
        {
            var ns = NodeNamespace(node);
            var port = BridgePort(node);
            commands.Add(["ip", "netns", "add", ns]);
            commands.Add(["ip", "-n", ns, "link", "set", "lo", "up"]);
            commands.Add(["ip", "-n", br, "link", "add", port, "type", "veth", "peer", "name", NodeInterface, "netns", ns]);
            commands.Add(["ip", "-n", br, "link", "set", port, "master", Bridge]);
            commands.Add(["ip", "-n", br, "link", "set", port, "up"]);
            commands.Add(["ip", "-n", ns, "addr", "add", $"{Address(node)}/16", "dev", NodeInterface]);
            commands.Add(["ip", "-n", ns, "link", "set", NodeInterface, "up"]);
            commands.Add(Shape(ns, NodeInterface));   // the node's upload
            commands.Add(Shape(br, port));            // the node's download
        }
        return commands;
    }

    public IReadOnlyList<string[]> TeardownCommands() =>
        AllNamespaces.Select(ns => new[] { "ip", "netns", "del", ns }).ToArray();

    private string[] Shape(string ns, string device) =>
    [
        "tc", "-n", ns, "qdisc", "replace", "dev", device, "root", "tbf",
        "rate", Rate.TcText,
        "burst", BurstBytes.ToString(CultureInfo.InvariantCulture),
        "latency", "50ms",
    ];

    private int Check(int node) =>
        node >= 0 && node < Nodes ? node : throw new ArgumentOutOfRangeException(nameof(node), $"node {node} of {Nodes}");
}

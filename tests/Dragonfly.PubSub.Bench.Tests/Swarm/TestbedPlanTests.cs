using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Processes;
using Dragonfly.PubSub.Bench.Swarm.Systems;
using Dragonfly.PubSub.Bench.Swarm.Testbed;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class TestbedPlanTests
{
    private static readonly TestbedPlan Plan = new("4242", 3, LinkRate.Parse("100mbit"));

    [Theory]
    [InlineData("100mbit", 100_000_000)]
    [InlineData("1gbit", 1_000_000_000)]
    [InlineData("500kbit", 500_000)]
    [InlineData("2.5Mbit", 2_500_000)]
    public void LinkRate_ParsesTcUnits(string text, long bits)
    {
        var rate = LinkRate.Parse(text);
        Assert.Equal(bits, rate.BitsPerSecond);
        Assert.Equal(bits / 8.0, rate.BytesPerSecond);
        Assert.Equal($"{bits}bit", rate.TcText);
    }

    [Theory]
    [InlineData("100")]
    [InlineData("100MB")]
    [InlineData("-5mbit")]
    [InlineData("1bit")]
    public void LinkRate_RejectsWhatTcWouldNotMeanAsARate(string text)
    {
        var e = Assert.Throws<UserFacingException>(() => LinkRate.Parse(text));
        Assert.Equal(ExitCodes.Usage, e.ExitCode);
    }

    [Fact]
    public void Names_AndAddresses_StayInOurNamespacesAndPrivateRange()
    {
        Assert.Equal("dfb-4242-br", Plan.BridgeNamespace);
        Assert.Equal("dfb-4242-0", Plan.NodeNamespace(0));
        Assert.Equal("10.213.0.1", Plan.Address(0));
        Assert.Equal("10.213.0.3", Plan.Address(2));
        Assert.Equal("10.213.0.250", new TestbedPlan("1", 250, LinkRate.Parse("1mbit")).Address(249));
        Assert.Throws<ArgumentOutOfRangeException>(() => Plan.Address(3));
        Assert.Equal(["dfb-4242-0", "dfb-4242-1", "dfb-4242-2", "dfb-4242-br"], Plan.AllNamespaces);
    }

    [Fact]
    public void Setup_MakesTheBridgeThenOneShapedLinkPerNode()
    {
        var commands = Plan.SetupCommands().Select(c => string.Join(' ', c)).ToArray();
        Assert.Equal("ip netns add dfb-4242-br", commands[0]);
        Assert.Contains("ip -n dfb-4242-br link add br0 type bridge", commands);
        Assert.Contains("ip -n dfb-4242-1 link set lo up", commands);
        Assert.Contains("ip -n dfb-4242-br link add p1 type veth peer name eth0 netns dfb-4242-1", commands);
        Assert.Contains("ip -n dfb-4242-br link set p1 master br0", commands);
        Assert.Contains("ip -n dfb-4242-1 addr add 10.213.0.2/16 dev eth0", commands);
        // Upload: the node's own end; download: the bridge's end of its pair.
        Assert.Contains("tc -n dfb-4242-1 qdisc replace dev eth0 root tbf rate 100000000bit burst 125000 latency 50ms", commands);
        Assert.Contains("tc -n dfb-4242-br qdisc replace dev p1 root tbf rate 100000000bit burst 125000 latency 50ms", commands);
        Assert.Equal(3, commands.Count(c => c.StartsWith("ip netns add dfb-4242-", StringComparison.Ordinal) && !c.EndsWith("br", StringComparison.Ordinal)));
        Assert.Equal(6, commands.Count(c => c.StartsWith("tc ", StringComparison.Ordinal)));
        // Every namespace is made before anything is put into it.
        var nodeAdded = Array.IndexOf(commands, "ip netns add dfb-4242-2");
        Assert.True(nodeAdded < Array.FindIndex(commands, c => c.Contains("netns dfb-4242-2", StringComparison.Ordinal) && !c.StartsWith("ip netns add", StringComparison.Ordinal)));
    }

    [Fact]
    public void Burst_HoldsAGsoPacketAtLowRatesAndATickAtHighRates()
    {
        Assert.Equal(64 * 1024, new TestbedPlan("1", 2, LinkRate.Parse("10mbit")).BurstBytes);
        Assert.Equal(1_250_000, new TestbedPlan("1", 2, LinkRate.Parse("1gbit")).BurstBytes);
    }

    [Fact]
    public void Teardown_DeletesEveryNamespace()
    {
        var commands = Plan.TeardownCommands().Select(c => string.Join(' ', c)).ToArray();
        Assert.Equal(["ip netns del dfb-4242-0", "ip netns del dfb-4242-1", "ip netns del dfb-4242-2", "ip netns del dfb-4242-br"], commands);
    }

    [Fact]
    public void TooFewOrTooManyNodes_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TestbedPlan("1", 1, LinkRate.Parse("1mbit")).SetupCommands());
        Assert.Throws<ArgumentOutOfRangeException>(() => new TestbedPlan("1", 251, LinkRate.Parse("1mbit")).SetupCommands());
    }

    [Fact]
    public void Aria2_UsesOnlyThePrivateTrackerAndSeedsUntilStopped()
    {
        var arguments = BitTorrentSystem.Aria2Arguments("/d", "/h.sh");
        Assert.Contains("--enable-dht=false", arguments);
        Assert.Contains("--bt-enable-lpd=false", arguments);
        Assert.Contains("--enable-peer-exchange=true", arguments);
        Assert.Contains("--seed-ratio=0.0", arguments);
        Assert.Contains("--on-bt-download-complete=/h.sh", arguments);
        Assert.Contains($"--stop-with-process={Environment.ProcessId}", arguments);
    }

    [Fact]
    public void Aria2_GetsTheSameUploadCapAsOurAgents_OnlyWhenOneIsAsked()
    {
        Assert.DoesNotContain(BitTorrentSystem.Aria2Arguments("/d", "/h.sh"), a => a.StartsWith("--max-overall-upload-limit", StringComparison.Ordinal));

        var capped = BitTorrentSystem.Aria2Arguments("/d", "/h.sh", LinkRate.ParseShare("90%", LinkRate.Parse("100mbit"), "--upload-limit"));

        Assert.Contains("--max-overall-upload-limit=11250000", capped); // 90 Mbit/s in bytes per second
    }

    [Theory]
    [InlineData("90%", 90_000_000)]
    [InlineData("100%", 100_000_000)]
    [InlineData("12.5%", 12_500_000)]
    [InlineData("88mbit", 88_000_000)]
    public void UploadLimit_IsAShareOfTheLinkOrARate(string text, long bits)
    {
        Assert.Equal(bits, LinkRate.ParseShare(text, LinkRate.Parse("100mbit"), "--upload-limit").BitsPerSecond);
    }

    [Theory]
    [InlineData("0%")]
    [InlineData("101%")]
    [InlineData("ninety%")]
    [InlineData("200mbit")] // above the link: a cap that does nothing is a mistake worth one line
    [InlineData("90")]
    public void UploadLimit_RejectsWhatIsNoShareOrRateBelowTheLink(string text)
    {
        var e = Assert.Throws<UserFacingException>(() => LinkRate.ParseShare(text, LinkRate.Parse("100mbit"), "--upload-limit"));
        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.Contains("--upload-limit", e.Message);
    }

    [Fact]
    public void ProcStat_ReadsUtimeAndStimeAfterANameWithSpacesAndParentheses()
    {
        // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
        const string stat = "123 (a (b) c) S 1 123 123 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1000 100000 200";
        Assert.Equal(3.0, ProcFs.ParseCpuSeconds(stat), 6);
        Assert.Equal(81236, ProcFs.ParseKiB(["Name:\tx", "VmHWM:\t   81236 kB", "VmRSS:\t 1 kB"], "VmHWM"));
    }

    [Fact]
    public void NginxConfig_ServesTheFolderOnPort80WithSendfileInOneProcess()
    {
        var config = OriginNginx.Config("/p", "/srv");
        Assert.Contains("sendfile on;", config, StringComparison.Ordinal);
        Assert.Contains("master_process off;", config, StringComparison.Ordinal);
        Assert.Contains("listen 0.0.0.0:80;", config, StringComparison.Ordinal);
        Assert.Contains("root /srv;", config, StringComparison.Ordinal);
    }

    [Fact]
    public void NginxConfig_ForThePairKeepsTheMasterAndListensOnLoopback()
    {
        var config = Common.Nginx.NginxConfig.Render("/p", "/srv", "127.0.0.1:8080", 64, singleProcess: false);
        Assert.DoesNotContain("master_process", config, StringComparison.Ordinal);
        Assert.Contains("daemon off;\nworker_processes 1;", config.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("listen 127.0.0.1:8080;", config, StringComparison.Ordinal);
        Assert.Contains("events { worker_connections 64; }", config, StringComparison.Ordinal);
    }

}

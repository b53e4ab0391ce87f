using System.Net;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Origins.Tests;

public sealed class EgressPolicyTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.0.9")]
    [InlineData("169.254.169.254")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.1.1")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    [InlineData("fd00::1")]
    [InlineData("fc00::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    public void InternalAddresses_AreRefused_WithTheFlagThatWouldAllowThem(string address)
    {
        var refusal = EgressPolicy.PublicOnlyWithoutAllowances.Refusal("origin.test", IPAddress.Parse(address));

        Assert.NotNull(refusal);
        Assert.Contains("--allow-origin origin.test", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("172.32.0.1")]
    [InlineData("8.8.8.8")]
    [InlineData("2606:4700::1111")]
    public void PublicAddresses_AreAllowed(string address) =>
        Assert.Null(EgressPolicy.PublicOnlyWithoutAllowances.Refusal("origin.test", IPAddress.Parse(address)));

    [Fact]
    public void Allowances_ByAddress_Cidr_OrHostName_OpenOnlyWhatTheyName()
    {
        var policy = EgressPolicy.PublicOnly(["127.0.0.1", "10.213.0.0/16", "Registry.Internal"]);

        Assert.Null(policy.Refusal("x", IPAddress.Parse("127.0.0.1")));
        Assert.Null(policy.Refusal("x", IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.NotNull(policy.Refusal("x", IPAddress.Parse("127.0.0.2")));
        Assert.Null(policy.Refusal("x", IPAddress.Parse("10.213.4.5")));
        Assert.NotNull(policy.Refusal("x", IPAddress.Parse("10.214.0.1")));
        Assert.Null(policy.Refusal("registry.internal", IPAddress.Parse("192.168.7.7")));
        Assert.NotNull(policy.Refusal("other.internal", IPAddress.Parse("192.168.7.7")));
        Assert.NotNull(policy.Refusal("x", IPAddress.Parse("169.254.169.254")));
        Assert.Null(EgressPolicy.Unrestricted.Refusal("x", IPAddress.Parse("169.254.169.254")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("not a host")]
    [InlineData("http://x")]
    public void BadAllowances_AreOneLineErrors(string allowance)
    {
        Assert.NotNull(EgressPolicy.ParseAllowance(allowance));
        Assert.Throws<FormatException>(() => EgressPolicy.PublicOnly([allowance]));
    }

    [Fact]
    public async Task ConnectAsync_ToARefusedAddress_OpensNoConnection()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var refused = await Assert.ThrowsAsync<OriginException>(() =>
            EgressPolicy.PublicOnlyWithoutAllowances.ConnectAsync("127.0.0.1", port, "http://127.0.0.1/x", CancellationToken.None));

        Assert.Equal(OriginErrorKind.EgressRefused, refused.Kind);
        Assert.False(listener.Pending());
        using var allowed = await EgressPolicy.PublicOnly(["127.0.0.1"]).ConnectAsync("127.0.0.1", port, "http://127.0.0.1/x", CancellationToken.None);
        Assert.True(allowed.Connected);
    }
}

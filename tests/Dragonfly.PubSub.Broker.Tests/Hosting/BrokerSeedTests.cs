using System.Net;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;
using Dragonfly.PubSub.Origins.S3;

namespace Dragonfly.PubSub.Broker.Tests.Hosting;

public sealed class BrokerSeedTests
{
    [Fact]
    public void AgentOptionsFor_MakesASeedOfThisBrokerWithItsOriginSettings()
    {
        var options = new BrokerOptions
        {
            DataDir = "/var/lib/dfbroker",
            SeedPort = 0,
            S3 = new S3OriginOptions { Endpoint = new Uri("http://127.0.0.1:9000"), Region = "eu-west-1", AccessKeyId = "k", SecretAccessKey = "s" },
        };

        var seed = BrokerSeed.AgentOptionsFor(options, grpcPort: 18002, logging: null);

        Assert.True(seed.Seed);
        Assert.Equal(("127.0.0.1", 18002), (seed.BrokerHost, seed.BrokerGrpcPort));
        Assert.Equal(("/var/lib/dfbroker/seed", 0, -1, "0.0.0.0"), (seed.DataDir, seed.PeerPort, seed.HttpPort, seed.ListenAddress));
        Assert.Empty(seed.Subscriptions);
        Assert.True(seed.Tls.Insecure); // no identity handed over: the broker runs with --insecure
        Assert.Equal((new Uri("http://127.0.0.1:9000"), "eu-west-1", "k", "s"),
            (seed.Origins.S3Endpoint, seed.Origins.S3Region, seed.Origins.S3AccessKey, seed.Origins.S3SecretKey));
    }

    [Fact]
    public void AgentOptionsFor_CapsTheSeedsUploadOnlyWhenTheBrokerIsToldTo()
    {
        Assert.Equal(0, BrokerSeed.AgentOptionsFor(new BrokerOptions { DataDir = "/d" }, grpcPort: 8002, logging: null).UploadLimit);

        var capped = BrokerSeed.AgentOptionsFor(new BrokerOptions { DataDir = "/d", SeedUploadLimit = 11_000_000 }, grpcPort: 8002, logging: null);

        Assert.Equal(11_000_000, capped.UploadLimit);
    }

    [Fact]
    public void AgentOptionsFor_DialsTheListenAddressWhenTheBrokerListensOnOneAddressOnly()
    {
        var options = new BrokerOptions { DataDir = "/d", Listen = IPAddress.Parse("10.1.2.3") };

        var seed = BrokerSeed.AgentOptionsFor(options, grpcPort: 8002, logging: null);

        Assert.Equal(("10.1.2.3", 8002, "10.1.2.3"), (seed.BrokerHost, seed.BrokerGrpcPort, seed.ListenAddress));
    }

    [Fact]
    public void AgentOptionsFor_WithAnIdentity_HandsTheSeedItsCertificateAndTheBrokersCiphers()
    {
        Assert.True(Dragonfly.PubSub.Security.TlsCiphers.TryParse("chacha20-poly1305", out var ciphers, out _));
        var options = new BrokerOptions { DataDir = "/d", Tls = new BrokerTlsOptions { Ciphers = ciphers } };
        using var ca = Dragonfly.PubSub.Security.FleetCa.Create("ca");
        var identity = new Dragonfly.PubSub.Security.TlsIdentity(
            [ca.Certificate], ca.IssueWithNewKey(new("seed-1", Dragonfly.PubSub.Security.PeerRole.Seed, []), TimeSpan.FromHours(1)), ciphers);

        var seed = BrokerSeed.AgentOptionsFor(options, grpcPort: 8002, logging: null, () => identity);

        Assert.False(seed.Tls.Insecure);
        Assert.Same(identity, seed.Tls.Identity!());
        Assert.Equal("chacha20-poly1305", seed.Tls.Ciphers.Name);
    }
}

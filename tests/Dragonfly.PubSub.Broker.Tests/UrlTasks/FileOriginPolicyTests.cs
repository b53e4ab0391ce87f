using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Broker.Tests.UrlTasks;

/// <summary>file:// origins only under --file-origin-root, by real path. Real files and links in a temp directory.</summary>
public sealed class FileOriginPolicyTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-files-").FullName;
    private readonly string _root;
    private readonly string _outside;
    private readonly OriginRegistry _origins = OriginRegistry.CreateDefault();
    private readonly SwarmCoordinator _coordinator = new(
        "broker-test", _ => null, new ParentSelectionPolicy(TimeProvider.System, new Random(1), 4), TimeProvider.System, NullLogger<SwarmCoordinator>.Instance);

    public FileOriginPolicyTests()
    {
        _root = Directory.CreateDirectory(Path.Combine(_dir, "allowed")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_dir, "allowed-not")).FullName;
        File.WriteAllText(Path.Combine(_root, "app.tar"), "inside");
        File.WriteAllText(Path.Combine(_outside, "secret"), "outside");
    }

    public Task InitializeAsync() => _coordinator.StartAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _coordinator.StopAsync(CancellationToken.None);
        _origins.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Check_WithoutRoots_RefusesEveryFile()
    {
        var problem = FileOriginPolicy.None.Check(new Uri(Path.Combine(_root, "app.tar")), out _);

        Assert.Equal("file:// origins are disabled on this broker; allow a directory with --file-origin-root", problem);
    }

    [Fact]
    public void Check_AFileUnderARoot_IsAllowed_AsItsRealPath()
    {
        var policy = new FileOriginPolicy([Path.Combine(_root, "..", "allowed")]);

        Assert.Null(policy.Check(new Uri(Path.Combine(_root, "app.tar")), out var allowed));
        Assert.Equal(Path.Combine(_root, "app.tar"), allowed.LocalPath);
    }

    [Fact]
    public void Check_ALinkInsideTheRootToAFileOutside_IsRefused()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "link"), Path.Combine(_outside, "secret"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "dirlink"), _outside);
        var policy = new FileOriginPolicy([_root]);

        Assert.Contains("is not under a directory this broker allows", policy.Check(new Uri(Path.Combine(_root, "link")), out _));
        Assert.Contains("is not under a directory this broker allows", policy.Check(new Uri(Path.Combine(_root, "dirlink", "secret")), out _));
        Assert.Contains("is not under a directory this broker allows", policy.Check(new Uri("file://" + _root + "/../allowed-not/secret"), out _));
        Assert.Contains("is not under a directory this broker allows", policy.Check(new Uri("file://" + _root + "/%2E%2E/allowed-not/secret"), out _));
        Assert.Contains("is not under a directory this broker allows", policy.Check(new Uri(Path.Combine(_outside, "secret")), out _)); // a sibling with the root as prefix
    }

    [Fact]
    public void Check_ALinkToAFileInsideTheRoot_IsAllowed_AndTheSeedIsSentTheTarget()
    {
        var elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        File.CreateSymbolicLink(Path.Combine(elsewhere, "latest.tar"), Path.Combine(_root, "app.tar"));
        Directory.CreateSymbolicLink(Path.Combine(_dir, "root-link"), _root);

        Assert.Null(new FileOriginPolicy([_root]).Check(new Uri(Path.Combine(elsewhere, "latest.tar")), out var viaLink));
        Assert.Equal(Path.Combine(_root, "app.tar"), viaLink.LocalPath);
        // The root itself given through a link.
        Assert.Null(new FileOriginPolicy([Path.Combine(_dir, "root-link")]).Check(new Uri(Path.Combine(_root, "app.tar")), out _));
    }

    [Fact]
    public void Check_ALoopOfLinks_IsRefused()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "a"), Path.Combine(_root, "b"));
        File.CreateSymbolicLink(Path.Combine(_root, "b"), Path.Combine(_root, "a"));

        Assert.Contains("cannot be resolved", new FileOriginPolicy([_root]).Check(new Uri(Path.Combine(_root, "a")), out _));
    }

    [Fact]
    public void Check_AFileOnAnotherHost_IsRefused()
    {
        Assert.Contains("only local files", new FileOriginPolicy([_root]).Check(new Uri("file://server.example/share/app.tar"), out _));
    }

    [Theory]
    [InlineData("/a/b/../c", "/a/c")]
    [InlineData("/a/./b//c/", "/a/b/c")]
    [InlineData("/../..", "/")]
    public void RealPath_WithoutLinks_IsTheNormalizedPath(string path, string expected)
    {
        Assert.Equal(expected, FileOriginPolicy.RealPath(path));
    }

    [Fact]
    public void RealPath_DotDotAfterALink_GoesUpFromTheLinkTarget()
    {
        var deep = Directory.CreateDirectory(Path.Combine(_outside, "deep")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(_root, "up"), deep);

        Assert.Equal(Path.Combine(_outside, "secret"), FileOriginPolicy.RealPath(Path.Combine(_root, "up") + "/../secret"));
    }

    [Fact]
    public void RealPath_OfAFileNameWithEscapes_RoundTripsThroughItsUri()
    {
        var name = Path.Combine(_root, "a b#c%20d?.tar");
        File.WriteAllText(name, "x");

        Assert.Null(new FileOriginPolicy([_root]).Check(new Uri(name), out var allowed));
        Assert.Equal(name, allowed.LocalPath);
    }

    [Fact]
    public async Task Register_AFileUrl_IsAFailedPreconditionWithoutRoots_AndWorksUnderOne()
    {
        var url = new Uri(Path.Combine(_root, "app.tar")).AbsoluteUri;
        var closed = new UrlTaskRegistrar(new OriginClient(_origins), _coordinator, NullLogger<UrlTaskRegistrar>.Instance);
        var open = new UrlTaskRegistrar(new OriginClient(_origins), _coordinator, NullLogger<UrlTaskRegistrar>.Instance,
            fileOrigins: new FileOriginPolicy([_root]));

        var refused = await closed.RegisterAsync(new RegisterUrlTaskRequest { Url = url }, CancellationToken.None);
        var outside = await open.RegisterAsync(new RegisterUrlTaskRequest { Url = new Uri(Path.Combine(_outside, "secret")).AbsoluteUri }, CancellationToken.None);
        var accepted = await open.RegisterAsync(new RegisterUrlTaskRequest { Url = url }, CancellationToken.None);

        Assert.Equal((UrlTaskErrorKind.FailedPrecondition, FileOriginPolicy.Disabled), (refused.ErrorKind, refused.Error));
        Assert.Equal(UrlTaskErrorKind.FailedPrecondition, outside.ErrorKind);
        Assert.Null(accepted.Error);
        Assert.Equal(("app.tar", 6L), (accepted.Manifest!.Name, accepted.Manifest.Size));
    }
}

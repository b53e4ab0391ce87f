using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Origins.Files;
using Dragonfly.PubSub.Transfer.Sources;

namespace Dragonfly.PubSub.Agent.Tests.Sources;

/// <summary><see cref="OriginPieceSource"/> over file:// and a scripted origin: no network.</summary>
public sealed class OriginPieceSourceTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly OriginRegistry _registry = new();

    public OriginPieceSourceTests()
    {
        _registry.Register(new FileOrigin());
        _registry.Register(new UnavailableOrigin());
    }

    public void Dispose()
    {
        _registry.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task ReadAsync_ReadsExactlyTheRange()
    {
        var bytes = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        var path = _dir.Combine("object.bin");
        await File.WriteAllBytesAsync(path, bytes);
        var source = new OriginPieceSource(new OriginClient(_registry), new Uri(path));
        var buffer = new byte[1000];

        await source.ReadAsync(3000, buffer, CancellationToken.None);

        Assert.Equal(bytes.AsSpan(3000, 1000).ToArray(), buffer);
    }

    [Fact]
    public async Task ReadAsync_WhenTheObjectIsGone_FailsPermanently()
    {
        var source = new OriginPieceSource(new OriginClient(_registry), new Uri(_dir.Combine("missing.bin")));

        var error = await Assert.ThrowsAsync<PieceSourceException>(() => source.ReadAsync(0, new byte[10], CancellationToken.None));

        Assert.True(error.Permanent);
        Assert.Equal(TaskErrorKind.NotFound, error.Kind);
        Assert.Contains("not found", error.Message);
    }

    [Fact]
    public async Task ReadAsync_WhenTheObjectIsShorterThanTheTaskSays_FailsAsChangedSize()
    {
        var path = _dir.Combine("short.bin");
        await File.WriteAllBytesAsync(path, new byte[100]);
        var source = new OriginPieceSource(new OriginClient(_registry), new Uri(path));

        var error = await Assert.ThrowsAsync<PieceSourceException>(() => source.ReadAsync(90, new byte[20], CancellationToken.None));

        Assert.True(error.Permanent);
        Assert.Equal(TaskErrorKind.SourceChanged, error.Kind);
        Assert.StartsWith("the origin object changed size", error.Message);
    }

    [Fact]
    public async Task ReadAsync_BeyondTheEndOfAnObjectThatShrank_FailsAsChangedContent()
    {
        var path = _dir.Combine("shrunk.bin");
        await File.WriteAllBytesAsync(path, new byte[100]);
        var source = new OriginPieceSource(new OriginClient(_registry), new Uri(path));

        var error = await Assert.ThrowsAsync<PieceSourceException>(() => source.ReadAsync(200, new byte[20], CancellationToken.None));

        Assert.True(error.Permanent);
        Assert.Equal(TaskErrorKind.SourceChanged, error.Kind); // the origin said "range not satisfiable"; the task knows a larger size
    }

    [Fact]
    public async Task ReadAsync_WhenRetriesRunOut_FailsTransiently()
    {
        var options = OriginRequestOptions.Default with { Retry = OriginRetryPolicy.None };
        var source = new OriginPieceSource(new OriginClient(_registry), new Uri("flaky://origin.test/object.bin"), options);

        var error = await Assert.ThrowsAsync<PieceSourceException>(() => source.ReadAsync(0, new byte[10], CancellationToken.None));

        Assert.False(error.Permanent);
        Assert.Equal(TaskErrorKind.Unavailable, error.Kind);
        Assert.Contains("unavailable", error.Message);
    }

    [Fact]
    public void Description_LeavesOutUserInfoQueryAndFragment()
    {
        var url = new Uri("https://user:secret@downloads.example.com:8443/files/a%20b.bin?X-Amz-Signature=abc&v=2#part");

        var source = new OriginPieceSource(new OriginClient(_registry), url);

        Assert.Equal("https://downloads.example.com:8443/files/a%20b.bin", source.Description);
    }

    /// <summary>An origin that is always down (503).</summary>
    private sealed class UnavailableOrigin : IOrigin
    {
        public IReadOnlyCollection<string> Schemes { get; } = ["flaky"];

        public Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken) =>
            throw Unavailable(url);

        public Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken) =>
            throw Unavailable(url);

        private static OriginException Unavailable(Uri url) =>
            new(OriginErrorKind.Unavailable, $"origin unavailable (503): {OriginUrl.Redact(url)}", OriginUrl.Redact(url), 503);
    }
}

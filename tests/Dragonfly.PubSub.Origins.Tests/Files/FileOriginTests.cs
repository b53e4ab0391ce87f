using Dragonfly.PubSub.Origins.Tests.Infrastructure;

namespace Dragonfly.PubSub.Origins.Tests.Files;

public sealed class FileOriginTests : IDisposable
{
    private const int Size = 1024 * 1024 + 99;
    private readonly string _dir = Directory.CreateTempSubdirectory("dragonfly-file-origin-").FullName;
    private readonly OriginClient _client = new(OriginRegistry.CreateDefault());
    private readonly byte[] _data = TestData.Bytes(Size, seed: 31);
    private readonly Uri _url;

    public FileOriginTests()
    {
        var path = Path.Combine(_dir, "a file.bin");
        File.WriteAllBytes(path, _data);
        _url = new Uri(path);
    }

    public void Dispose()
    {
        _client.Registry.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Stat_ReportsSizeAndModificationTime()
    {
        var stat = await _client.StatAsync(_url).WaitAsync(Timeouts.Test);

        Assert.Equal("file", _url.Scheme);
        Assert.Equal(Size, stat.Size);
        Assert.True(stat.SupportsRanges);
        Assert.Equal(File.GetLastWriteTimeUtc(_url.LocalPath), stat.LastModified!.Value.UtcDateTime);
    }

    [Fact]
    public async Task RangedReads_ReassembleToTheSameBytes()
    {
        var bytes = await TestData.ReassembleAsync(_client, _url, Size, 100_003, inFlight: 4).WaitAsync(Timeouts.Test);

        Assert.Equal(TestData.Sha256(_data), TestData.Sha256(bytes));
    }

    [Fact]
    public async Task OpenRange_PastTheEnd_IsClippedAtTheEnd_AndFullyPastIsAnError()
    {
        await using var tail = await _client.OpenRangeAsync(_url, Size - 10, 1000).WaitAsync(Timeouts.Test);
        var bytes = await TestData.ReadAllAsync(tail);
        var beyond = await Assert.ThrowsAsync<OriginException>(() => _client.OpenRangeAsync(_url, Size + 1, 10)).WaitAsync(Timeouts.Test);

        Assert.Equal(_data.AsSpan(Size - 10).ToArray(), bytes);
        Assert.Equal(OriginErrorKind.RangeNotSatisfiable, beyond.Kind);
    }

    [Fact]
    public async Task MissingFile_AndDirectory_FailAtOnceWithClearErrors()
    {
        var missing = new Uri(Path.Combine(_dir, "missing.bin"));

        var notFound = await Assert.ThrowsAsync<OriginException>(() => _client.StatAsync(missing)).WaitAsync(Timeouts.Test);
        var openMissing = await Assert.ThrowsAsync<OriginException>(() => _client.OpenRangeAsync(missing, 0, 1)).WaitAsync(Timeouts.Test);
        var directory = await Assert.ThrowsAsync<OriginException>(() => _client.StatAsync(new Uri(_dir))).WaitAsync(Timeouts.Test);

        Assert.Equal($"not found at origin: file://{missing.AbsolutePath}", notFound.Message);
        Assert.Equal(OriginErrorKind.NotFound, openMissing.Kind);
        Assert.Equal(OriginErrorKind.Rejected, directory.Kind);
        Assert.StartsWith("is a directory", directory.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RemoteHost_IsRefused()
    {
        var error = await Assert.ThrowsAsync<OriginException>(() => _client.StatAsync(new Uri("file://fileserver/share/x.bin"))).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.InvalidUrl, error.Kind);
    }
}

using Dragonfly.PubSub.Bench.Common.Nginx;
using Dragonfly.PubSub.Bench.Swarm.Systems;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class AccessLogTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"dfbench-access-{Guid.NewGuid():N}.log");

    [Fact]
    public void Parse_CountsBodyBytesPerMethodRangeAndClient()
    {
        var totals = AccessLog.Parse(
        [
            "10.213.0.1 HEAD 200 0 \"-\"",
            "10.213.0.1 GET 206 4194304 \"bytes=0-4194303\"",
            "10.213.0.1 GET 206 1000 \"bytes=4194304-8388607\"", // cut off: nginx logs what it sent
            "10.213.0.3 GET 200 8388608 \"-\"",
        ]);
        Assert.Equal(4, totals.Requests.Count);
        Assert.Equal(4194304 + 1000 + 8388608, totals.BodyBytes);
        Assert.Equal(1, totals.Count("HEAD"));
        Assert.Equal(2, totals.RangedGets);
        Assert.Null(totals.Requests[0].Range);
        Assert.Equal("bytes=0-4194303", totals.Requests[1].Range);
        Assert.Equal([("10.213.0.3", 8388608L, 1), ("10.213.0.1", 4195304L, 3)], totals.ByClient);
    }

    [Fact]
    public void Parse_RejectsLinesInAnotherFormat()
    {
        Assert.Throws<FormatException>(() => AccessLog.Parse(["127.0.0.1 - - [26/Nov/2026:05:02:05 +0000] \"GET / HTTP/1.1\" 200 612"]));
    }

    [Fact]
    public void ReadSince_CountsOnlyWholeLinesAfterTheMark()
    {
        Assert.Equal(0, AccessLog.Mark(_path));
        Assert.Empty(AccessLog.ReadSince(_path, 0).Requests);
        File.WriteAllText(_path, "10.213.0.1 GET 206 1 \"bytes=0-0\"\n"); // the readiness probe
        var mark = AccessLog.Mark(_path);
        File.AppendAllText(_path, "10.213.0.1 HEAD 200 0 \"-\"\n10.213.0.1 GET 200 100 \"-\"\n10.213.0.1 GET 2");
        var totals = AccessLog.ReadSince(_path, mark);
        Assert.Equal(2, totals.Requests.Count);
        Assert.Equal(100, totals.BodyBytes);
    }

    [Fact]
    public void NginxConfig_LogsBodyBytesInOurFormatOnlyWhenAsked()
    {
        var plain = OriginNginx.Config("/p", "/srv");
        Assert.Contains("access_log off;", plain, StringComparison.Ordinal);
        var logged = OriginNginx.Config("/p", "/srv", "/p/access.log");
        Assert.DoesNotContain("access_log off;", logged, StringComparison.Ordinal);
        Assert.Contains($"log_format dfbench '{NginxConfig.AccessLogFormat}';", logged, StringComparison.Ordinal);
        Assert.Contains("access_log /p/access.log dfbench;", logged, StringComparison.Ordinal);
        Assert.Contains("$body_bytes_sent", NginxConfig.AccessLogFormat, StringComparison.Ordinal);
    }

    public void Dispose() => File.Delete(_path);
}

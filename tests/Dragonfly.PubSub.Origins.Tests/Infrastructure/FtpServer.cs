using System.Text.RegularExpressions;

namespace Dragonfly.PubSub.Origins.Tests.Infrastructure;

/// <summary>
/// A real FTP server (Debian's python3-pyftpdlib) on 127.0.0.1 serving a temp dir: anonymous and
/// <see cref="User"/>/<see cref="Password"/> on <see cref="Port"/>, and on <see cref="NoRestPort"/>
/// the same files from a server that does not implement REST.
/// </summary>
internal sealed partial class FtpServer : IDisposable
{
    public const string User = "alice";
    public const string Password = "ftp-s3cret";

    private const string Script = """
        import logging, sys
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer
        logging.basicConfig(level=logging.WARNING)
        root, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(root)
        authorizer.add_user(user, password, root, perm="elr")
        class Handler(FTPHandler):
            pass
        Handler.authorizer = authorizer
        Handler.auth_failed_timeout = 0.05
        class NoRest(FTPHandler):
            proto_cmds = {k: v for k, v in FTPHandler.proto_cmds.items() if k != "REST"}
        NoRest.authorizer = authorizer
        NoRest.auth_failed_timeout = 0.05
        server = FTPServer(("127.0.0.1", 0), Handler)
        norest = FTPServer(("127.0.0.1", 0), NoRest)
        print("ftp ready port=%d norest=%d" % (server.address[1], norest.address[1]), flush=True)
        server.serve_forever()
        """;

    private readonly ServerProcess _process;

    private FtpServer(string root, ServerProcess process, int port, int noRestPort)
    {
        Root = root;
        _process = process;
        Port = port;
        NoRestPort = noRestPort;
    }

    public string Root { get; }

    public int Port { get; }

    public int NoRestPort { get; }

    public static async Task<FtpServer> StartAsync()
    {
        var root = Directory.CreateTempSubdirectory("dragonfly-ftp-").FullName;
        var process = ServerProcess.Start("pyftpdlib", TestPaths.DebianPython, ["-c", Script, root, User, Password], root);
        try
        {
            var ready = await process.WaitForLineAsync(line => line.StartsWith("ftp ready", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
            var ports = ReadyLine().Match(ready);
            return new FtpServer(root, process, int.Parse(ports.Groups[1].Value), int.Parse(ports.Groups[2].Value));
        }
        catch
        {
            process.Dispose();
            TempDirectory.Delete(root);
            throw;
        }
    }

    public Uri Url(string path, bool noRest = false, string? userInfo = null) =>
        new($"ftp://{(userInfo is null ? "" : userInfo + "@")}127.0.0.1:{(noRest ? NoRestPort : Port)}/{path}");

    public byte[] AddFile(string path, int size, int seed)
    {
        var bytes = TestData.Bytes(size, seed);
        File.WriteAllBytes(Path.Combine(Root, path), bytes);
        return bytes;
    }

    public void Dispose()
    {
        try
        {
            _process.Dispose();
        }
        finally
        {
            TempDirectory.Delete(Root);
        }
    }

    [GeneratedRegex(@"port=(\d+) norest=(\d+)")]
    private static partial Regex ReadyLine();
}

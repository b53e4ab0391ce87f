using System.Globalization;
using System.Text.RegularExpressions;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real FTP server (Debian's python3-pyftpdlib) on 127.0.0.1 serving a temp dir: anonymous and
/// <see cref="User"/>/<see cref="Password"/> on <see cref="Port"/>, and on <see cref="NoRestPort"/>
/// the same files from a server that does not implement REST. Every data transfer is logged with
/// its REST offset and byte count (<see cref="Transfers"/>).
/// </summary>
public sealed partial class FtpServer : IDisposable
{
    public const string User = "alice";
    public const string Password = "ftp-s3cret";

    private const string Script = """
        import logging, os, sys
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer
        logging.basicConfig(level=logging.WARNING)
        root, user, password, transfers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(root)
        authorizer.add_user(user, password, root, perm="elr")
        class Handler(FTPHandler):
            # One line per data transfer: command, REST offset, bytes pushed, completed, path.
            def ftp_RETR(self, file):
                self.dragonfly_offset = self._restart_position
                return super().ftp_RETR(file)
            def log_transfer(self, cmd, filename, receive, completed, elapsed, bytes):
                with open(transfers, "a") as log:
                    log.write("%s %d %d %d %s\n" % (cmd, getattr(self, "dragonfly_offset", 0), bytes, 1 if completed else 0,
                                                    os.path.relpath(filename, root)))
                super().log_transfer(cmd, filename, receive, completed, elapsed, bytes)
        Handler.authorizer = authorizer
        Handler.auth_failed_timeout = 0.05
        class NoRest(Handler):
            proto_cmds = {k: v for k, v in FTPHandler.proto_cmds.items() if k != "REST"}
        server = FTPServer(("127.0.0.1", 0), Handler)
        norest = FTPServer(("127.0.0.1", 0), NoRest)
        print("ftp ready port=%d norest=%d" % (server.address[1], norest.address[1]), flush=True)
        server.serve_forever()
        """;

    private readonly string _home;
    private readonly ServerProcess _process;

    private FtpServer(string home, string root, ServerProcess process, int port, int noRestPort)
    {
        _home = home;
        Root = root;
        _process = process;
        Port = port;
        NoRestPort = noRestPort;
    }

    /// <summary>The folder the server serves.</summary>
    public string Root { get; }

    public int Port { get; }

    public int NoRestPort { get; }

    public static async Task<FtpServer> StartAsync()
    {
        var home = Directory.CreateTempSubdirectory("dragonfly-ftp-").FullName;
        var root = Directory.CreateDirectory(Path.Combine(home, "root")).FullName;
        var process = ServerProcess.Start("pyftpdlib", TestPaths.DebianPython, ["-c", Script, root, User, Password, Path.Combine(home, "transfers.log")], home);
        try
        {
            var ready = await process.WaitForLineAsync(line => line.StartsWith("ftp ready", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
            var ports = ReadyLine().Match(ready);
            return new FtpServer(home, root, process, int.Parse(ports.Groups[1].Value, CultureInfo.InvariantCulture),
                int.Parse(ports.Groups[2].Value, CultureInfo.InvariantCulture));
        }
        catch
        {
            process.Dispose();
            TempDirectory.Delete(home);
            throw;
        }
    }

    public Uri Url(string path, bool noRest = false, string? userInfo = null) =>
        new($"ftp://{(userInfo is null ? "" : userInfo + "@")}127.0.0.1:{(noRest ? NoRestPort : Port)}/{path}");

    public byte[] AddFile(string path, int size, int seed)
    {
        var bytes = SeededBytes.Create(size, seed);
        File.WriteAllBytes(Path.Combine(Root, path), bytes);
        return bytes;
    }

    /// <summary>The data transfers of <paramref name="path"/> (relative to <see cref="Root"/>) that ended so far.</summary>
    public IReadOnlyList<FtpTransfer> Transfers(string path)
    {
        var log = Path.Combine(_home, "transfers.log");
        if (!File.Exists(log))
        {
            return [];
        }
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var transfers = new List<FtpTransfer>();
        while (reader.ReadLine() is { } line)
        {
            var parts = line.Split(' ', 5);
            if (parts.Length == 5 && parts[4] == path)
            {
                transfers.Add(new FtpTransfer(parts[0], long.Parse(parts[1], CultureInfo.InvariantCulture),
                    long.Parse(parts[2], CultureInfo.InvariantCulture), parts[3] == "1", parts[4]));
            }
        }
        return transfers;
    }

    public void Dispose()
    {
        try
        {
            _process.Dispose();
        }
        finally
        {
            TempDirectory.Delete(_home);
        }
    }

    [GeneratedRegex(@"port=(\d+) norest=(\d+)")]
    private static partial Regex ReadyLine();
}

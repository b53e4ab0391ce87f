namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real server process (Mosquitto, Redis, ...) on a free 127.0.0.1 port with its data in its own temp dir:
/// starting on a port that another process took in between is retried on another one, <see cref="Kill"/>
/// stops it by its own PID, and <see cref="Dispose"/> removes the temp dir. Subclasses say how to start it.
/// </summary>
public abstract class LoopbackServer : IDisposable
{
    private ServerProcess? _process;

    protected LoopbackServer(string root) => Root = root;

    public string Root { get; }

    public int Port { get; private set; }

    /// <summary>What the server logged.</summary>
    public string Output => _process?.Output ?? "";

    /// <summary>SIGKILL: connections are cut, new ones refused until it is started again.</summary>
    public void Kill() => _process?.Kill();

    public void Dispose()
    {
        try
        {
            _process?.Dispose();
        }
        finally
        {
            TempDirectory.Delete(Root);
        }
    }

    /// <summary>Fails with one line naming the Debian package when <paramref name="executable"/> is missing.</summary>
    protected static void RequireInstalled(string executable, string package)
    {
        if (!File.Exists(executable))
        {
            throw new FileNotFoundException($"{package} is not installed; run eng/test.sh (it installs the test dependencies, here the Debian package {package})", executable);
        }
    }

    /// <summary>Starts <paramref name="server"/> on a free port (three tries), or disposes it and throws.</summary>
    protected static async Task<T> StartOnFreePortAsync<T>(T server) where T : LoopbackServer
    {
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                server.Port = FreePort.Next();
                try
                {
                    await server.StartProcessAsync();
                    return server;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    // Another process took the port between probing and binding: pick another one.
                }
            }
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>(Re)starts the process on <see cref="Port"/> with the data in <see cref="Root"/>, until it listens.</summary>
    protected async Task StartProcessAsync()
    {
        _process?.Dispose();
        _process = await LaunchAsync();
        await FreePort.WaitUntilListeningAsync(Port, _process, TimeSpan.FromSeconds(10));
    }

    /// <summary>Starts the server process (its config written first if it has one).</summary>
    protected abstract Task<ServerProcess> LaunchAsync();
}

using System.Runtime.InteropServices;

namespace Dragonfly.PubSub.Bench.Common.Cli;

/// <summary>
/// Our own Ctrl-C/SIGTERM handling, whatever the host does: the signal is swallowed and
/// <see cref="Token"/> cancelled, so the benchmark unwinds and stops what it started.
/// </summary>
public sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration _onInterrupt;
    private readonly PosixSignalRegistration _onTerminate;

    private Interruption(CancellationToken linkedTo)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(linkedTo);
        _onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        _onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    }

    /// <summary>Cancelled by SIGINT, SIGTERM or <c>linkedTo</c>.</summary>
    public CancellationToken Token => _stop.Token;

    public bool IsCancellationRequested => _stop.IsCancellationRequested;

    public static Interruption Watch(CancellationToken linkedTo = default) => new(linkedTo);

    public void Dispose()
    {
        _onTerminate.Dispose();
        _onInterrupt.Dispose();
        _stop.Dispose();
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _stop.Cancel();
    }
}

using Grpc.Core;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// What an agent may take over in its process. The defaults suit an agent hosted inside another
/// program (dfbroker's seed, dfget's one-shot agent): no console logging, no Ctrl-C/SIGTERM
/// handling, no ready line. The dfagent daemon turns them all on.
/// </summary>
public sealed record AgentHosting
{
    /// <summary>Log to the console (single-line, timestamped). Off: only to <see cref="Logging"/>, if any.</summary>
    public bool ConsoleLogging { get; init; }

    /// <summary>Also send the agent's log to this factory (the hosting program's own logging).</summary>
    public ILoggerFactory? Logging { get; init; }

    /// <summary>Debug logging.</summary>
    public bool Verbose { get; init; }

    /// <summary>Stop on Ctrl-C/SIGTERM (the daemon); off, only <c>StopAsync</c> stops the agent.</summary>
    public bool HandleShutdownSignals { get; init; }

    /// <summary>Print <c>dfagent ready peer-id=.. peer-port=.. http-port=..</c> on stdout once bound.</summary>
    public bool PrintReadyLine { get; init; }

    /// <summary>
    /// Wraps the call invoker of each scheduler channel: dfbroker's seed gets one that serves its <c>Connect</c>
    /// stream inside the broker's process. Null: every call goes over the channel.
    /// </summary>
    public Func<CallInvoker, CallInvoker>? SchedulerInvoker { get; init; }

    /// <summary>The daemon's settings: console logging, signals and the ready line.</summary>
    public static AgentHosting Daemon(bool verbose) =>
        new() { ConsoleLogging = true, Verbose = verbose, HandleShutdownSignals = true, PrintReadyLine = true };
}

using System.Globalization;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>
/// The dfbrokers of one run: one with its own LiteDB (the default), or several on one Redis
/// (<c>--state redis://</c>) that the fleet starts first. Tasks are placed on brokers exactly as agents
/// given <c>--broker A,B,C</c> place them (<see cref="RendezvousHash"/> over the brokers' <c>HOST:PORT</c>
/// names). Disposing stops the brokers, then Redis, each by PID.
/// </summary>
internal sealed class BrokerFleet : IAsyncDisposable
{
    private readonly List<BrokerProcess> _brokers = [];
    private readonly List<string> _dataDirs = [];

    private BrokerFleet()
    {
    }

    public IReadOnlyList<BrokerProcess> Brokers => _brokers;

    /// <summary>The shared state of several brokers (null: one broker on its own LiteDB).</summary>
    public RedisProcess? Redis { get; private set; }

    /// <summary>Each broker's scheduler as an agent names it in <c>--broker</c> (<c>127.0.0.1:PORT</c>): what tasks are hashed over.</summary>
    public IReadOnlyList<string> Names => [.. _brokers.Select(b => NameOf(b.Ports.GrpcPort))];

    public static string NameOf(int grpcPort) => "127.0.0.1:" + grpcPort.ToString(CultureInfo.InvariantCulture);

    /// <summary>The index of the broker that owns <paramref name="taskId"/> while all are healthy (what an agent's placement picks).</summary>
    public int OwnerOf(string taskId)
    {
        var names = Names;
        return _brokers.Count == 1 ? 0 : IndexOf(names, RendezvousHash.Order(names, n => n, taskId)[0]);
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }
        throw new InvalidOperationException($"{name} is not one of the brokers");
    }

    /// <summary>Starts <paramref name="count"/> brokers (and Redis when more than one); on failure stops what it started.</summary>
    public static async Task<BrokerFleet> StartAsync(int count, string executable, bool tls, Action<string> say, CancellationToken cancellationToken)
    {
        var fleet = new BrokerFleet();
        try
        {
            IReadOnlyList<string> shared = [];
            if (count > 1)
            {
                fleet.Redis = await RedisProcess.StartAsync(fleet.NewDataDir("dfbench-redis-"), cancellationToken).ConfigureAwait(false);
                shared = ["--state", fleet.Redis.Url];
                say($"redis-server pid {fleet.Redis.Pid} on {fleet.Redis.Url}");
            }
            for (var i = 0; i < count; i++)
            {
                var broker = await BrokerProcess.StartAsync(executable, fleet.NewDataDir("dfbench-broker-"), tls, cancellationToken, shared).ConfigureAwait(false);
                fleet._brokers.Add(broker);
                var ports = broker.Ports;
                say($"dfbroker {i} pid {broker.Pid} ready: mqtt {ports.MqttPort}, grpc {ports.GrpcPort}, http {ports.HttpPort}");
            }
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private string NewDataDir(string prefix)
    {
        var dir = Directory.CreateTempSubdirectory(prefix).FullName;
        _dataDirs.Add(dir);
        return dir;
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_brokers.Select(b => b.DisposeAsync().AsTask())).ConfigureAwait(false);
        if (Redis is not null)
        {
            await Redis.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var dir in _dataDirs)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A temp folder left behind is harmless.
            }
        }
    }
}

using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.State;

/// <summary>
/// The connection to the Redis that several brokers share (<c>--state redis://…</c>) and the names of its
/// keys, all under <c>dragonfly:</c>. The client reconnects by itself; a call while Redis is away fails
/// with a <see cref="RedisException"/> (the caller decides whether that is worth failing for). With Sentinel
/// (<c>redis-sentinel://…/SERVICE</c>) the connection follows a failover to the promoted replica.
/// </summary>
public sealed class RedisState : IDisposable
{
    private const string Prefix = "dragonfly:";

    private RedisState(StateUrl url, ConnectionMultiplexer connection)
    {
        Url = url;
        Connection = connection;
    }

    public StateUrl Url { get; }

    public ConnectionMultiplexer Connection { get; }

    public IDatabase Database => Connection.GetDatabase();

    /// <summary>Connects, waiting up to <paramref name="timeout"/> for Redis to answer.</summary>
    /// <exception cref="RedisConnectionException">Redis did not answer.</exception>
    public static RedisState Connect(StateUrl url, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(url);
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = true,
            ConnectTimeout = (int)timeout.TotalMilliseconds,
            ConnectRetry = 3,
            // A broker keeps working through a Redis restart: commands wait for the reconnect up to this long.
            SyncTimeout = 10_000,
            AsyncTimeout = 10_000,
            ClientName = "dfbroker",
            // redis-sentinel://…/SERVICE: the endpoints are Sentinels; the client asks them for SERVICE's primary
            // and moves to the replica they promote when it fails (their +switch-master message, or its own poll).
            ServiceName = url.ServiceName,
        };
        foreach (var (host, port) in url.Endpoints)
        {
            options.EndPoints.Add(host, port);
        }
        var connection = ConnectionMultiplexer.Connect(options);
        return new RedisState(url, connection);
    }

    public static RedisKey Key(string name) => Prefix + name;

    public void Dispose() => Connection.Dispose();
}

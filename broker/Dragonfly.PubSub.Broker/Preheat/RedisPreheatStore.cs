using System.Text.Json;
using Dragonfly.PubSub.Broker.Fleet;
using Dragonfly.PubSub.Broker.Http;
using Dragonfly.PubSub.Broker.State;
using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// Preheat jobs in the Redis several brokers share: hash <c>dragonfly:preheat</c> (id → API JSON) and
/// <c>dragonfly:preheat-owner</c> (id → the broker that runs it). A broker answers at start for its own jobs
/// and for those of brokers that are gone (no heartbeat): it takes them over, and the service marks the
/// unfinished ones failed, as after its own restart. Jobs of live brokers stay theirs.
/// </summary>
public sealed class RedisPreheatStore(RedisState state, string brokerId, IBrokerDirectory brokers) : IPreheatStore
{
    private static readonly RedisKey Jobs = RedisState.Key("preheat");
    private static readonly RedisKey Owners = RedisState.Key("preheat-owner");

    public void Save(PreheatJob job)
    {
        var db = state.Database;
        db.HashSet(Jobs, job.Id, JsonSerializer.Serialize(job, BrokerJsonContext.Default.PreheatJob));
        db.HashSet(Owners, job.Id, brokerId);
    }

    public void Delete(string id)
    {
        state.Database.HashDelete(Jobs, id);
        state.Database.HashDelete(Owners, id);
    }

    public IReadOnlyList<PreheatJob> LoadAll()
    {
        var live = brokers.Live().Select(b => b.Id).ToHashSet(StringComparer.Ordinal);
        var owners = state.Database.HashGetAll(Owners).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString(), StringComparer.Ordinal);
        var jobs = new List<PreheatJob>();
        foreach (var entry in state.Database.HashGetAll(Jobs))
        {
            var owner = owners.GetValueOrDefault(entry.Name.ToString());
            if (owner is not null && owner != brokerId && live.Contains(owner))
            {
                continue; // another broker runs it
            }
            try
            {
                if (JsonSerializer.Deserialize(entry.Value.ToString(), BrokerJsonContext.Default.PreheatJob) is { } job)
                {
                    jobs.Add(job);
                }
            }
            catch (JsonException)
            {
                // Written by an incompatible version: not worth failing the broker's start for.
            }
        }
        return jobs;
    }
}

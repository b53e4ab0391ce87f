using System.Text.Json;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Http;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>Preheat jobs in the catalogue's LiteDB (collection <c>preheatJobs</c>), as their API JSON. Thread-safe (LiteDB is).</summary>
public sealed class PreheatStore : IPreheatStore
{
    private readonly ILiteCollection<BsonDocument> _jobs;

    public PreheatStore(ManifestCatalogue catalogue)
    {
        _jobs = catalogue.Collection("preheatJobs");
    }

    public void Save(PreheatJob job) => _jobs.Upsert(new BsonDocument
    {
        ["_id"] = job.Id,
        ["createdAt"] = job.CreatedAt.UtcDateTime,
        ["json"] = JsonSerializer.Serialize(job, BrokerJsonContext.Default.PreheatJob),
    });

    public void Delete(string id) => _jobs.Delete(id);

    /// <summary>Every stored job; one that cannot be read any more is skipped.</summary>
    public IReadOnlyList<PreheatJob> LoadAll()
    {
        var jobs = new List<PreheatJob>();
        foreach (var document in _jobs.FindAll())
        {
            try
            {
                if (JsonSerializer.Deserialize(document["json"].AsString, BrokerJsonContext.Default.PreheatJob) is { } job)
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

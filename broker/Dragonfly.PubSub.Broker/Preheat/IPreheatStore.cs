namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// Where preheat jobs are kept, as their API JSON: <see cref="PreheatStore"/> (the broker's LiteDB, the
/// default) or <see cref="RedisPreheatStore"/> (<c>--state redis://…</c>). Thread-safe.
/// </summary>
public interface IPreheatStore
{
    void Save(PreheatJob job);

    void Delete(string id);

    /// <summary>The jobs this broker answers for at start; one that cannot be read any more is skipped.</summary>
    IReadOnlyList<PreheatJob> LoadAll();
}

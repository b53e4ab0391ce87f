using Dragonfly.PubSub.Broker.Diagnostics;

namespace Dragonfly.PubSub.Broker.Preheat;

// The jobs in the catalogue: saved on each change, the oldest finished ones pruned beyond MaxJobs,
// and those a stopped broker left unfinished failed at the next start.
public sealed partial class PreheatService
{
    private void Save(PreheatJob view)
    {
        _views[view.Id] = view;
        try
        {
            _store.Save(view);
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException or StackExchange.Redis.RedisException or TimeoutException)
        {
            // The job goes on in memory; only a restart would lose it.
            BrokerLog.PreheatStoreFailed(_logger, view.Id, e);
        }
    }

    private void Prune()
    {
        var excess = _views.Count - MaxJobs;
        if (excess <= 0)
        {
            return;
        }
        foreach (var old in _views.Values.Where(j => PreheatStates.IsFinished(j.State)).OrderBy(j => j.CreatedAt).Take(excess).ToList())
        {
            _views.TryRemove(old.Id, out _);
            try
            {
                _store.Delete(old.Id);
            }
            catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException or StackExchange.Redis.RedisException or TimeoutException)
            {
                BrokerLog.PreheatStoreFailed(_logger, old.Id, e);
            }
        }
    }

    /// <summary>Stored jobs come back; those that were unfinished can no longer be followed, so they failed.</summary>
    private void Load()
    {
        var interrupted = 0;
        foreach (var stored in _store.LoadAll())
        {
            var job = stored;
            if (!PreheatStates.IsFinished(job.State))
            {
                interrupted++;
                job = job with
                {
                    State = PreheatStates.Failed,
                    Error = Restarted,
                    FinishedAt = _time.GetUtcNow(),
                    Blobs = [.. job.Blobs.Select(b => PreheatStates.IsFinished(b.State) ? b : b with { State = PreheatStates.Failed, Error = "the broker restarted" })],
                };
                _store.Save(job);
            }
            _views[job.Id] = job;
        }
        if (interrupted > 0)
        {
            BrokerLog.PreheatInterrupted(_logger, interrupted);
        }
    }
}

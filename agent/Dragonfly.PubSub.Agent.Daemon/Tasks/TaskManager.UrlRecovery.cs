using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Pieces;
using Grpc.Core;

namespace Dragonfly.PubSub.Agent.Tasks;

// A broker that restarts forgets the URL tasks it had not finished sourcing: it keeps them, with their
// URL and headers, in memory only. The agents running one bring it back. Whoever holds its URL (the
// agent dfget asked, a seed told to fetch it) registers it again; the others wait for that; every one
// joins again with the pieces it has, and the new source fetches from the origin only what nobody
// holds. A task that nobody brings back within UrlRegainWindow fails with one line: dfget never
// waits for ever.
public sealed partial class TaskManager
{
    /// <summary>How long a URL task waits, once the broker answers again, for someone to register it again.</summary>
    internal static readonly TimeSpan UrlRegainWindow = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan UrlRegainPoll = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The scheduler stream (re)connected. Its Join of a URL task the broker forgot was dropped, so
    /// every running URL task checks that the broker knows it, brings it back if not, and joins again.
    /// Called on the session's reading thread: only starts the checks.
    /// </summary>
    private void OnSchedulerConnected()
    {
        List<(TaskEntry Entry, TaskDownloader Downloader)> running = [];
        lock (_gate)
        {
            foreach (var entry in _tasks.Values)
            {
                if (entry.IsUrlTask && entry.State == TaskStates.Running && entry.Downloader is { } downloader && !entry.Regaining)
                {
                    entry.Regaining = true;
                    running.Add((entry, downloader));
                }
            }
        }
        foreach (var (entry, downloader) in running)
        {
            Track(Task.Run(() => KeepUrlTaskAsync(entry, downloader, _stopping.Token)));
        }
    }

    /// <summary>How often a task other than a URL task joins again when a broker keeps saying NotJoined (it does not know the task).</summary>
    internal static readonly TimeSpan JoinAgainGap = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The broker said it does not count this agent in a running task (NotJoined): its Join was dropped. Seen when a
    /// URL task moved from a lost broker to one that did not know it yet, and the task was registered again
    /// elsewhere or later (CI, 2026-12-07: eight agents asked a broker that ignored them for three minutes). A URL
    /// task is brought back as after a reconnect (registered again if the broker forgot it, then joined); any other
    /// task joins again, at most once per <see cref="JoinAgainGap"/> (a broker that lost a published task keeps
    /// saying it to every NeedParents). The broker says it at most once a second per task; a regain under way is
    /// not doubled.
    /// </summary>
    private void JoinAgain(TaskEntry entry, TaskDownloader downloader)
    {
        lock (_gate)
        {
            if (!IsRunByLocked(entry, downloader) || downloader.FailedBySwarm)
            {
                // That run ended, or is ending: the broker failed the task (its TaskFailed came before this NotJoined,
                // the answer to a NeedParents sent meanwhile). A Join now would make a peer that left a member again,
                // and registering a failed URL task again would fetch its origin once more.
                return;
            }
            if (entry.IsUrlTask)
            {
                if (entry.Regaining)
                {
                    return;
                }
                entry.Regaining = true;
            }
            else
            {
                var now = _time.GetTimestamp();
                if (entry.JoinedAgainAt != 0 && _time.GetElapsedTime(entry.JoinedAgainAt, now) < JoinAgainGap)
                {
                    return;
                }
                entry.JoinedAgainAt = now;
                JoinLocked(entry);
            }
        }
        AgentLog.NotJoined(_logger, _scheduler.RouteOf(entry.Digest), entry.Digest.ToString());
        if (entry.IsUrlTask)
        {
            Track(Task.Run(() => KeepUrlTaskAsync(entry, downloader, _stopping.Token)));
        }
    }

    private async Task KeepUrlTaskAsync(TaskEntry entry, TaskDownloader downloader, CancellationToken stopping)
    {
        try
        {
            var manifest = await RegainUrlTaskAsync(entry, stopping).ConfigureAwait(false);
            if (manifest.Error is { } error)
            {
                if (IsRunBy(entry, downloader))
                {
                    AgentLog.UrlTaskLost(_logger, entry.Digest.ToString(), error);
                    downloader.FailFromSwarm(error, manifest.Kind);
                }
                return;
            }
            lock (_gate)
            {
                if (!IsRunByLocked(entry, downloader))
                {
                    return; // that run ended meanwhile
                }
                // Again even when the broker knew the task: this session's first Join may have reached it
                // before another agent had registered the task again, and was then dropped.
                JoinLocked(entry);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down.
        }
        finally
        {
            lock (_gate)
            {
                entry.Regaining = false;
            }
        }
    }

    private bool IsRunBy(TaskEntry entry, TaskDownloader downloader)
    {
        lock (_gate)
        {
            return IsRunByLocked(entry, downloader);
        }
    }

    private static bool IsRunByLocked(TaskEntry entry, TaskDownloader downloader) =>
        ReferenceEquals(entry.Downloader, downloader) && entry.State == TaskStates.Running;

    /// <summary>
    /// Joins the task again with the pieces its record holds. Under the lock, as the run's end sends Leave after
    /// changing the state under it: a Join never follows that Leave.
    /// </summary>
    private void JoinLocked(TaskEntry entry) =>
        _scheduler.Join(entry.Digest, PieceBitmap.FromBytes(entry.Record.Bitmap ?? [], entry.Record.PieceCount), entry.Record.Publisher);

    /// <summary>
    /// The broker's manifest of a URL task once it knows it (again), or why it never will: asks the
    /// broker; when it does not know the task, registers it again with the registration this agent
    /// holds, or else waits for an agent that holds one. While the broker cannot be reached (it is
    /// restarting) this waits as the session does; once it answers, up to <see cref="UrlRegainWindow"/>.
    /// </summary>
    private async Task<(Manifest? Manifest, string? Error, TaskErrorKind Kind)> RegainUrlTaskAsync(TaskEntry entry, CancellationToken stopping)
    {
        DateTimeOffset? deadline = null;
        while (true)
        {
            Manifest? known;
            try
            {
                known = await _scheduler.GetManifestAsync(entry.Digest, stopping).ConfigureAwait(false);
            }
            catch (UserFacingException e) when (e.InnerException is RpcException)
            {
                await Task.Delay(UrlRegainPoll, _time, stopping).ConfigureAwait(false);
                continue;
            }
            if (known is not null)
            {
                return (known, null, TaskErrorKind.Other);
            }
            RegisterUrlTaskRequest? registration;
            lock (_gate)
            {
                registration = entry.Registration;
            }
            if (registration is not null)
            {
                try
                {
                    var shown = Uri.TryCreate(registration.Url, UriKind.Absolute, out var url) ? UrlForMessages(url) : entry.Digest.ToString();
                    var manifest = await _scheduler.RegisterUrlTaskAsync(registration.Clone(), shown, stopping).ConfigureAwait(false);
                    if (manifest.Digest == entry.Digest.ToString())
                    {
                        AgentLog.UrlTaskRegained(_logger, _scheduler.BrokerAddress, entry.Digest.ToString(), $"{shown}, {manifest.PieceDigests.Count(d => !d.IsEmpty)} piece digest(s) known to the broker");
                        return (manifest, null, TaskErrorKind.Other);
                    }
                    // Another task id (a tag or query filter a seed was not told): not this task; wait for its owner.
                    lock (_gate)
                    {
                        entry.Registration = null;
                    }
                }
                catch (UserFacingException e) when (e.InnerException is RpcException { StatusCode: StatusCode.PermissionDenied })
                {
                    // A seed may fetch URL tasks but not register them (secure mode): an agent that may brings it back.
                    lock (_gate)
                    {
                        entry.Registration = null;
                    }
                }
                catch (UserFacingException e) when (!IsTransient(e))
                {
                    return (null, $"broker {_scheduler.BrokerAddress} restarted and forgot URL task {entry.Digest}; registering it again failed: {e.Message}",
                        SchedulerSession.ErrorKindOf(e.InnerException as RpcException));
                }
                catch (UserFacingException)
                {
                    // The broker or the origin is not ready yet: next round.
                }
            }
            var now = _time.GetUtcNow();
            deadline ??= now + UrlRegainWindow;
            if (now >= deadline)
            {
                return (null, LostUrlTaskMessage(entry), TaskErrorKind.Other);
            }
            await Task.Delay(UrlRegainPoll, _time, stopping).ConfigureAwait(false);
        }
    }

    private string LostUrlTaskMessage(TaskEntry entry) =>
        $"broker {_scheduler.BrokerAddress} no longer knows URL task {entry.Digest} (it restarted or the task failed), and no agent that holds its URL "
        + $"registered it again within {UrlRegainWindow.TotalSeconds:0} s; download the URL again";

    /// <summary>A failed registration that may work a moment later (broker or origin not ready), as opposed to a refusal.</summary>
    private static bool IsTransient(UserFacingException e) =>
        e.InnerException is RpcException { StatusCode: not (StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.FailedPrecondition
            or StatusCode.PermissionDenied or StatusCode.Unimplemented) };

    /// <summary>What a seed told to fetch a URL task needs to register it again (the task id must come out the same to count).</summary>
    private RegisterUrlTaskRequest RegistrationOf(FetchSource fetch)
    {
        var request = new RegisterUrlTaskRequest
        {
            Url = fetch.Url,
            PieceSize = fetch.Manifest?.PieceSize ?? 0,
            ExpectedDigest = fetch.ExpectedDigest,
            Requester = _runtime.PeerId,
        };
        request.Headers.Add(fetch.Headers);
        return request;
    }
}

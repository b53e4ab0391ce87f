using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.Channels;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// Preheat jobs. A submission is resolved against the registry before it is accepted (unknown image or
/// platform: refused at once); then every config and layer blob of the chosen platforms becomes a
/// content-addressed URL task through <see cref="IUrlTaskIntake"/> (task id = blob digest, announced on
/// the job's topic), and each blob's state follows its task through <see cref="UrlTaskNews"/>. Once every
/// blob is in the swarm, one image announcement listing all of them goes out on the topic through
/// <see cref="IImageAnnouncer"/>, after the per-blob ones: MQTT retains only a topic's last message, and
/// that one list is what an agent subscribing later needs. The job succeeds when it is out. One loop
/// owns the jobs; readers get immutable views. Jobs are stored in the catalogue; those unfinished when
/// the broker stopped are failed at the next start.
/// </summary>
public sealed partial class PreheatService : BackgroundService
{
    /// <summary>Jobs kept (stored and listed); beyond it the oldest finished ones are dropped.</summary>
    public const int MaxJobs = 500;

    public const string Restarted = "the broker restarted before the job finished; submit it again";

    private const int RegistrationsInFlight = 4;

    private readonly Channel<Command> _commands = Channel.CreateUnbounded<Command>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IImageResolver _resolver;
    private readonly IUrlTaskIntake _intake;
    private readonly IImageAnnouncer _announcer;
    private readonly IPreheatStore _store;
    private readonly UrlTaskNews? _news;
    private readonly TimeProvider _time;
    private readonly ILogger<PreheatService> _logger;

    // Readers see these immutable views; only the loop replaces them.
    private readonly ConcurrentDictionary<string, PreheatJob> _views = new(StringComparer.Ordinal);

    // Owned by the loop: unfinished jobs, and news of tasks that a blob's registration (still in flight) may have joined.
    private readonly Dictionary<string, ActiveJob> _active = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<long, UrlTaskUpdate>> _early = new(StringComparer.Ordinal);
    private CancellationToken _stopping;

    public PreheatService(
        IImageResolver resolver,
        IUrlTaskIntake intake,
        IImageAnnouncer announcer,
        IPreheatStore store,
        TimeProvider time,
        ILogger<PreheatService> logger,
        UrlTaskNews? news = null)
    {
        _resolver = resolver;
        _intake = intake;
        _announcer = announcer;
        _store = store;
        _news = news;
        _time = time;
        _logger = logger;
        Load();
    }

    public PreheatJob? Find(string id) => _views.GetValueOrDefault(id);

    /// <summary>Every kept job, newest first.</summary>
    public IReadOnlyList<PreheatJob> List() =>
        [.. _views.Values.OrderByDescending(j => j.CreatedAt).ThenBy(j => j.Id, StringComparer.Ordinal)];

    /// <summary>Resolves the image and, when that works, starts the job.</summary>
    public async Task<PreheatSubmission> SubmitAsync(PreheatRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ResolvedImage resolved;
        var locations = new List<BlobLocation>();
        try
        {
            resolved = await _resolver.ResolveAsync(request.Image, request.Platforms, cancellationToken).ConfigureAwait(false);
            foreach (var blob in resolved.Blobs)
            {
                locations.Add(await _resolver.LocateAsync(request.Image, blob.Digest, cancellationToken).ConfigureAwait(false));
            }
        }
        catch (RegistryException e)
        {
            var (status, error) = Refusal(request.Image, e);
            BrokerLog.PreheatRejected(_logger, request.Image.ToString(), error);
            return PreheatSubmission.Refused(status, error);
        }

        var blobs = resolved.Blobs
            .Select(b => new PreheatBlob(b.Digest.ToString(), b.Size, b.MediaType, PlatformsUsing(resolved, b.Digest), PreheatStates.Pending))
            .ToList();
        var job = new PreheatJob(
            NewId(),
            request.Image.ToString(),
            resolved.Root.Digest.ToString(),
            Requested(request.Platforms),
            request.Topic,
            PreheatStates.Pending,
            null,
            _time.GetUtcNow(),
            null,
            [.. resolved.Images.Select(i => new PreheatManifest(i.Manifest.Digest.ToString(), i.Platform.ToString(), i.Manifest.MediaType, i.Manifest.Size))],
            blobs);
        var reply = new TaskCompletionSource<PreheatJob>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_commands.Writer.TryWrite(new Create(new ActiveJob(job, request.Image), locations, reply)))
        {
            return PreheatSubmission.Refused(503, "the broker is stopping; submit the preheat again once it runs");
        }
        try
        {
            return PreheatSubmission.Accepted(await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return PreheatSubmission.Refused(503, "the broker is stopping; submit the preheat again once it runs");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var forwarding = _news is null ? Task.CompletedTask : ForwardNewsAsync(_news, stoppingToken);
        try
        {
            await foreach (var command in _commands.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    Apply(command);
                }
                catch (Exception e)
                {
                    // A bug in one command must not stop every job.
                    BrokerLog.PreheatCommandFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _commands.Writer.TryComplete();
            while (_commands.Reader.TryRead(out var left))
            {
                (left as Create)?.Reply.TrySetCanceled();
            }
        }
        await forwarding.ConfigureAwait(false);
    }

    private async Task ForwardNewsAsync(UrlTaskNews news, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var update in news.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                _commands.Writer.TryWrite(new News(update));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Apply(Command command)
    {
        switch (command)
        {
            case Create c:
                OnCreate(c);
                break;
            case Registered r:
                OnRegistered(r);
                break;
            case News n:
                OnNews(n.Update);
                break;
            case Announced a:
                OnAnnounced(a);
                break;
        }
    }

    private void OnCreate(Create create)
    {
        var job = create.Job;
        for (var i = 0; i < job.View.Blobs.Count; i++)
        {
            job.Blobs[job.View.Blobs[i].Digest] = new BlobProgress(i, retries: create.Locations[i].Authorization is null ? 0 : 1);
        }
        _active[job.View.Id] = job;
        Save(job.View);
        create.Reply.TrySetResult(job.View);
        BrokerLog.PreheatAccepted(_logger, job.View.Id, job.View.Image, string.Join(',', job.View.Platforms), job.View.Topic,
            job.View.Blobs.Count, job.View.Blobs.Sum(b => b.Size));
        Prune();
        if (job.View.Blobs.Count == 0)
        {
            Changed(job);
            return;
        }
        var work = job.View.Blobs.Select((blob, i) => (blob, create.Locations[i])).ToList();
        _ = RegisterAllAsync(job.View, job.Image, work);
    }

    private void OnRegistered(Registered registered)
    {
        if (!_active.TryGetValue(registered.JobId, out var job)
            || !job.Blobs.TryGetValue(registered.Digest, out var blob)
            || blob.Attempt != registered.Attempt
            || PreheatStates.IsFinished(job.View.Blobs[blob.Index].State))
        {
            return; // an older attempt, or the blob is already decided
        }
        var outcome = registered.Outcome;
        if (outcome.Manifest is null)
        {
            Fail(job, blob, outcome.Error ?? "the blob could not be registered");
        }
        else
        {
            blob.Incarnation = outcome.Incarnation;
            var phase = outcome.Phase;
            string? error = null;
            // News of this task that overtook the registration's answer.
            if (_early.TryGetValue(registered.Digest, out var early) && early.TryGetValue(outcome.Incarnation, out var news) && Stronger(news.Phase, phase))
            {
                (phase, error) = (news.Phase, news.Error);
            }
            ApplyPhase(job, blob, phase, error);
        }
        ForgetEarly(registered.Digest);
        Changed(job);
    }

    private void OnNews(UrlTaskUpdate update)
    {
        foreach (var job in _active.Values.ToList())
        {
            if (!job.Blobs.TryGetValue(update.TaskId, out var blob) || PreheatStates.IsFinished(job.View.Blobs[blob.Index].State))
            {
                continue;
            }
            if (blob.Incarnation == update.Incarnation)
            {
                ApplyPhase(job, blob, update.Phase, update.Error);
                Changed(job);
            }
            else if (blob.Incarnation == 0)
            {
                // Its registration is in flight: whether this is the task it joins shows when it answers.
                if (!_early.TryGetValue(update.TaskId, out var early))
                {
                    early = [];
                    _early[update.TaskId] = early;
                }
                if (!early.TryGetValue(update.Incarnation, out var known) || Stronger(update.Phase, known.Phase))
                {
                    early[update.Incarnation] = update;
                }
            }
        }
    }

    /// <summary>Sourced wins (the seed holds it); then Failed; then Fetching over Waiting.</summary>
    private static bool Stronger(UrlTaskPhase candidate, UrlTaskPhase current) => Rank(candidate) > Rank(current);

    private static int Rank(UrlTaskPhase phase) => phase switch
    {
        UrlTaskPhase.Sourced => 3,
        UrlTaskPhase.Failed => 2,
        UrlTaskPhase.Fetching => 1,
        _ => 0,
    };

    private void ApplyPhase(ActiveJob job, BlobProgress blob, UrlTaskPhase phase, string? error)
    {
        switch (phase)
        {
            case UrlTaskPhase.Sourced:
                SetBlob(job, blob, PreheatStates.Succeeded, null);
                break;
            case UrlTaskPhase.Failed:
                Fail(job, blob, error ?? "the blob's task failed");
                break;
            default:
                SetBlob(job, blob, PreheatStates.Running, null);
                break;
        }
    }

    /// <summary>
    /// A blob's registration or task failed. With a registry Authorization it gets one more attempt with a
    /// freshly resolved one (Bearer tokens expire while a big image is fetched); otherwise it failed.
    /// </summary>
    private void Fail(ActiveJob job, BlobProgress blob, string error)
    {
        var view = job.View.Blobs[blob.Index];
        if (blob.RetriesLeft > 0)
        {
            blob.RetriesLeft--;
            blob.Attempt++;
            blob.Incarnation = 0;
            SetBlob(job, blob, PreheatStates.Running, null);
            BrokerLog.PreheatBlobRetry(_logger, job.View.Id, view.Digest, error);
            _ = RetryAsync(job.View, job.Image, view, blob.Attempt);
            return;
        }
        SetBlob(job, blob, PreheatStates.Failed, error);
        BrokerLog.PreheatBlobFailed(_logger, job.View.Id, view.Digest, error);
    }

    private static void SetBlob(ActiveJob job, BlobProgress blob, string state, string? error)
    {
        var blobs = job.View.Blobs.ToArray();
        blobs[blob.Index] = blobs[blob.Index] with { State = state, Error = error };
        job.View = job.View with { Blobs = blobs };
    }

    /// <summary>After a blob changed: the job's own state, then store and publish it.</summary>
    private void Changed(ActiveJob job)
    {
        var view = job.View;
        if (view.Blobs.All(b => PreheatStates.IsFinished(b.State)))
        {
            var failed = view.Blobs.Where(b => b.State == PreheatStates.Failed).ToList();
            if (failed.Count == 0 && view.Blobs.Count > 0)
            {
                // Every blob is in the swarm: the image announcement goes out last, then the job has succeeded.
                if (!job.Announcing)
                {
                    job.Announcing = true;
                    _ = AnnounceAsync(view);
                }
                job.View = view with { State = PreheatStates.Running };
                Save(job.View);
                return;
            }
            Finish(job, failed.Count switch
            {
                0 => null,
                1 => $"blob {failed[0].Digest} failed: {failed[0].Error}",
                _ => $"{failed.Count} of {view.Blobs.Count} blobs failed; the first, {failed[0].Digest}: {failed[0].Error}",
            });
            return;
        }
        if (view.State == PreheatStates.Pending && view.Blobs.Any(b => b.State != PreheatStates.Pending))
        {
            view = view with { State = PreheatStates.Running };
        }
        job.View = view;
        Save(view);
    }

    private void OnAnnounced(Announced announced)
    {
        if (_active.TryGetValue(announced.JobId, out var job))
        {
            Finish(job, announced.Error);
        }
    }

    /// <summary>The job is over: succeeded without <paramref name="error"/>, else failed with it.</summary>
    private void Finish(ActiveJob job, string? error)
    {
        var state = error is null ? PreheatStates.Succeeded : PreheatStates.Failed;
        var view = job.View with { State = state, Error = error, FinishedAt = _time.GetUtcNow() };
        _active.Remove(view.Id);
        BrokerMetrics.PreheatJobs.WithLabels(state).Inc();
        BrokerLog.PreheatFinished(_logger, view.Id, state, error is null ? "" : ": " + error);
        job.View = view;
        Save(view);
    }

    /// <summary>Publishes the image announcement of a job whose blobs are all in the swarm, then tells the loop.</summary>
    private async Task AnnounceAsync(PreheatJob job)
    {
        string? error = null;
        try
        {
            await _announcer.AnnounceAsync(ImageAnnouncement(job, _time.GetUtcNow()), _stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return; // the broker stops; the job is failed at the next start
        }
        catch (Exception e)
        {
            BrokerLog.PreheatAnnounceFailed(_logger, job.Id, e);
            error = $"every blob was fetched, but the image announcement could not be published ({e.GetType().Name}); submit the preheat again";
        }
        _commands.Writer.TryWrite(new Announced(job.Id, error));
    }

    /// <summary>
    /// The image announcement of a job: the image's root manifest (index) digest, named by its hex, the sum
    /// of the blob sizes, every blob digest, and the labels of the job's blobs with kind <c>image</c>. No
    /// pieces: it is not a task, each blob is.
    /// </summary>
    public static Announcement ImageAnnouncement(PreheatJob job, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new Announcement
        {
            Digest = job.Digest,
            Name = ContentDigest.Parse(job.Digest).Hex,
            Size = job.Blobs.Sum(b => b.Size),
            Topic = job.Topic,
            Publisher = "preheat-" + job.Id,
            CreatedAt = createdAt,
            Labels = new Dictionary<string, string>
            {
                [ImageBlobLabels.Kind] = ImageBlobLabels.ImageAnnouncement,
                [ImageBlobLabels.Image] = job.Image,
                [ImageBlobLabels.Platforms] = string.Join(',', job.Manifests.Select(m => m.Platform).Distinct()),
            },
            Blobs = [.. job.Blobs.Select(b => b.Digest)],
        };
    }

    private void ForgetEarly(string digest)
    {
        var waiting = _active.Values.Any(j => j.Blobs.TryGetValue(digest, out var b) && b.Incarnation == 0
            && !PreheatStates.IsFinished(j.View.Blobs[b.Index].State));
        if (!waiting)
        {
            _early.Remove(digest);
        }
    }

    private static IReadOnlyList<string> Requested(PlatformSelector platforms) =>
        platforms.All ? [PlatformSelector.AllKeyword] : [.. platforms.Platforms.Select(p => p.ToString())];

    private static IReadOnlyList<string> PlatformsUsing(ResolvedImage resolved, ContentDigest digest) =>
        [.. resolved.Images.Where(i => i.Blobs.Any(b => b.Digest == digest)).Select(i => i.Platform.ToString()).Distinct()];

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private sealed class ActiveJob(PreheatJob view, ImageReference image)
    {
        public PreheatJob View { get; set; } = view;
        public ImageReference Image { get; } = image;
        public Dictionary<string, BlobProgress> Blobs { get; } = new(StringComparer.Ordinal);

        /// <summary>Its image announcement is being published; the job finishes when that is done.</summary>
        public bool Announcing { get; set; }
    }

    /// <summary>A blob's registration attempts (<see cref="Attempt"/>) and the task incarnation it joined (0: in flight).</summary>
    private sealed class BlobProgress(int index, int retries)
    {
        public int Index { get; } = index;
        public int Attempt { get; set; } = 1;
        public long Incarnation { get; set; }
        public int RetriesLeft { get; set; } = retries;
    }

    private abstract record Command;

    private sealed record Create(ActiveJob Job, IReadOnlyList<BlobLocation> Locations, TaskCompletionSource<PreheatJob> Reply) : Command;

    private sealed record Registered(string JobId, string Digest, int Attempt, UrlTaskOutcome Outcome) : Command;

    private sealed record News(UrlTaskUpdate Update) : Command;

    private sealed record Announced(string JobId, string? Error) : Command;
}

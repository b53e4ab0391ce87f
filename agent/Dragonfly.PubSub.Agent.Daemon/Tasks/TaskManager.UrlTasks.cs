using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;
using DownloadRequest = Dragonfly.PubSub.Client.DownloadRequest;
using PublishRequest = Dragonfly.PubSub.Client.PublishRequest;

namespace Dragonfly.PubSub.Agent.Tasks;

// URL tasks (back-to-source): registering URLs with the broker, the scheduler's URL-task events
// (piece digests, FetchSource, TaskSourced, TaskFailed), and --digest checks of download requests.
public sealed partial class TaskManager
{
    /// <summary>
    /// Registers the URL with the broker (which stats the origin once and answers with the task's
    /// manifest), then downloads the task like any other into <see cref="DownloadRequest.Output"/>.
    /// </summary>
    /// <exception cref="UserFacingException">Bad input (exit 2); the origin or the broker failed (exit 1).</exception>
    internal async Task<(ContentDigest TaskId, DownloadWaiter Waiter)> DownloadUrlAsync(DownloadRequest request, CancellationToken cancellationToken)
    {
        if (!Path.IsPathFullyQualified(request.Output))
        {
            throw UserFacingException.Usage($"{request.Output} is not an absolute path");
        }
        if (request.Limit is <= 0)
        {
            throw UserFacingException.Usage("limit must be a positive number of bytes per second");
        }
        var url = ParseUrl(request.Url!);
        var register = NewRegistration(request.Url!, request.Headers, request.Tag, request.FilterParams, request.PieceSize, request.Digest);
        var manifest = await _scheduler.RegisterUrlTaskAsync(register, UrlForMessages(url), cancellationToken).ConfigureAwait(false);
        var digest = CheckUrlManifest(manifest);
        AgentLog.UrlRegistered(_logger, digest.ToString(), UrlForMessages(url), ByteSize.Format(manifest.Size));
        var expected = request.Digest is null ? (ContentDigest?)null : ContentDigest.Parse(request.Digest);

        TaskEntry entry;
        lock (_gate)
        {
            if (!_tasks.TryGetValue(digest, out entry!))
            {
                var record = NewPendingRecord(digest, NameOf(manifest, url), manifest.Topic, manifest.Layout(), manifest);
                _store.Save(record);
                entry = new TaskEntry(digest, record)
                {
                    Manifest = manifest,
                    Registered = true,
                    DownloadLimit = request.Limit ?? 0,
                    Content = ContentDigest.TryParse(manifest.ContentDigest, out var content) ? content : null,
                };
                Register(entry);
            }
            // Kept (in memory) to register the task again should the broker restart before it is sourced.
            entry.Registration ??= register;
        }
        return (digest, AddWaiter(entry, new DownloadWaiter(request.Output, expected), fresh: manifest, limit: request.Limit ?? 0));
    }

    /// <summary>Has the broker announce the object at a URL on a topic as a URL task; seeds fetch it, subscribers download it.</summary>
    private async Task<PublishResult> PublishUrlAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        if (request.Name is not null && ArtifactName.Validate(request.Name) is { } nameError)
        {
            throw UserFacingException.Usage(nameError);
        }
        var url = ParseUrl(request.Url!);
        var register = NewRegistration(request.Url!, request.Headers, request.Tag, request.FilterParams, request.PieceSize, request.Digest);
        register.Topic = request.Topic;
        register.Name = request.Name ?? "";
        register.Labels.Add(request.Labels ?? []);
        var manifest = await _scheduler.RegisterUrlTaskAsync(register, UrlForMessages(url), cancellationToken).ConfigureAwait(false);
        var digest = CheckUrlManifest(manifest);
        AgentLog.UrlPublished(_logger, digest.ToString(), UrlForMessages(url), request.Topic, ByteSize.Format(manifest.Size));
        return new PublishResult(digest.ToString(), manifest.Name, manifest.Size, request.Topic, manifest.PieceSize, manifest.Layout().PieceCount)
        {
            UrlTask = true,
            ContentDigest = manifest.ContentDigest.Length > 0 ? manifest.ContentDigest : null,
        };
    }

    /// <summary>The URL as typed, checked: absolute, with a scheme this agent has an origin for.</summary>
    private Uri ParseUrl(string text)
    {
        Uri url;
        try
        {
            url = OriginUrl.Parse(text);
        }
        catch (FormatException e)
        {
            throw UserFacingException.Usage(e.Message);
        }
        if (!_origins.Registry.TryResolve(url, out _))
        {
            throw UserFacingException.Usage($"unsupported URL scheme '{url.Scheme}' in {UrlForMessages(url)}; supported: {string.Join(", ", _origins.Registry.Schemes)}");
        }
        return url;
    }

    private RegisterUrlTaskRequest NewRegistration(string text, IReadOnlyList<string>? headers, string? tag,
        IReadOnlyList<string>? filterParams, int? pieceSize, string? expected)
    {
        var request = new RegisterUrlTaskRequest { Url = text.Trim(), Tag = tag ?? "", Requester = _runtime.PeerId };
        foreach (var line in headers ?? [])
        {
            KeyValuePair<string, string> header;
            try
            {
                header = OriginRequestOptions.ParseHeader(line);
            }
            catch (FormatException e)
            {
                throw UserFacingException.Usage(e.Message);
            }
            request.Headers.Add(new Header { Name = header.Key, Value = header.Value });
        }
        foreach (var name in filterParams ?? [])
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw UserFacingException.Usage("--filter-param needs a query parameter name");
            }
            request.FilterParams.Add(name.Trim());
        }
        if (pieceSize is { } size)
        {
            if (size is < PieceLayout.MinPieceSize or > PieceLayout.MaxPieceSize)
            {
                throw UserFacingException.Usage($"piece size must be between {ByteSize.Format(PieceLayout.MinPieceSize)} and {ByteSize.Format(PieceLayout.MaxPieceSize)}");
            }
            request.PieceSize = size;
        }
        if (expected is not null)
        {
            request.ExpectedDigest = ContentDigest.TryParse(expected, out var digest)
                ? digest.Value.ToString()
                : throw UserFacingException.Usage($"--digest '{expected}' is not a content id; give sha256: followed by 64 lowercase hex digits");
        }
        return request;
    }

    /// <summary>scheme://host/path: what logs and messages may show of a URL (no user info, query or fragment).</summary>
    internal static string UrlForMessages(Uri url) => DragonflyClient.WithoutQuery(url);

    private static string NameOf(Manifest manifest, Uri url)
    {
        if (manifest.Name.Length > 0)
        {
            return manifest.Name;
        }
        var last = Uri.UnescapeDataString(url.AbsolutePath.TrimEnd('/').Split('/')[^1]);
        return ArtifactName.Validate(last) is null ? last : "download";
    }

    /// <summary>Checks a URL task's manifest from the broker; returns its task id.</summary>
    private static ContentDigest CheckUrlManifest(Manifest manifest)
    {
        if (!manifest.UrlTask || !ContentDigest.TryParse(manifest.Digest, out var digest))
        {
            throw new InvalidDataException($"the broker answered a URL registration with a manifest that is not a URL task ({manifest.Digest})");
        }
        CheckManifest(digest.Value, manifest);
        return digest.Value;
    }

    private static string? ValidateUrlManifest(Manifest manifest)
    {
        if (!ContentDigest.TryParse(manifest.Digest, out _))
        {
            return $"digest '{manifest.Digest}' is not a sha256: task id";
        }
        if (manifest.Name.Length > 0 && ArtifactName.Validate(manifest.Name) is { } nameError)
        {
            return nameError;
        }
        if (manifest.Topic.Length > 0 && TopicName.ValidateTopic(manifest.Topic) is { } topicError)
        {
            return topicError;
        }
        var layout = manifest.Layout();
        if (!layout.IsSupported)
        {
            return $"size {manifest.Size} or piece size {manifest.PieceSize} is out of range";
        }
        if (manifest.PieceDigests.Count == 0)
        {
            manifest.PieceDigests.AddRange(Enumerable.Repeat(ByteString.Empty, layout.PieceCount));
        }
        if (manifest.PieceDigests.Count != layout.PieceCount)
        {
            return $"the manifest lists {manifest.PieceDigests.Count} piece digests, the layout needs {layout.PieceCount}";
        }
        if (manifest.PieceDigests.Any(d => d.Length is not (0 or System.Security.Cryptography.SHA256.HashSizeInBytes)))
        {
            return "a piece digest is neither empty nor 32 bytes long";
        }
        return manifest.ContentDigest.Length > 0 && !ContentDigest.TryParse(manifest.ContentDigest, out _)
            ? $"content digest '{manifest.ContentDigest}' is not a sha256: content id"
            : null;
    }

    /// <summary>--digest of this request against what the content hashed to; an error means no output.</summary>
    /// <param name="mismatch">The content is known and hashes to something else (as opposed to: not known).</param>
    private string? CheckExpected(TaskEntry entry, DownloadWaiter waiter, out bool mismatch)
    {
        mismatch = false;
        if (waiter.Expected is not { } expected)
        {
            return null;
        }
        ContentDigest? actual;
        lock (_gate)
        {
            actual = entry.IsUrlTask ? entry.Content : entry.Digest;
        }
        mismatch = actual is not null && actual != expected;
        return actual is null ? $"the content digest of {entry.Digest} is not known, so --digest {expected} cannot be checked; no file was written"
            : mismatch ? $"the content hashes to {actual}, not to --digest {expected}; no file was written"
            : null;
    }

    private static void LearnDigests(TaskDownloader downloader, PieceDigests known) =>
        downloader.PieceDigestsLearned(known.Indexes, known.Digests.Select(d => d.Memory).ToList());

    /// <summary>
    /// An event of a task this agent does not run. Only FetchSource matters: a seed takes on the
    /// URL task (content kept in the store, no output file) and fetches from the origin whatever
    /// the swarm does not have; any other agent refuses.
    /// </summary>
    private void OnUnrouted(SchedulerEvent message)
    {
        if (message.EventCase != SchedulerEvent.EventOneofCase.FetchSource
            || message.FetchSource.Manifest is not { } manifest || !ContentDigest.TryParse(manifest.Digest, out var parsed))
        {
            return;
        }
        var digest = parsed.Value;
        string? refusal;
        lock (_gate)
        {
            if (_tasks.TryGetValue(digest, out var known))
            {
                // Registered since the session looked: its own loop takes it.
                known.Inbox.Deliver(message);
                return;
            }
            refusal = !_options.Seed ? $"agent {_runtime.PeerId} does not run task {digest}" : InvalidManifest(digest, manifest);
            if (refusal is null)
            {
                var record = NewPendingRecord(digest, manifest.Name.Length > 0 ? manifest.Name : "download", manifest.Topic, manifest.Layout(), manifest);
                // A seed is the swarm's parent of last resort for what it sources.
                record.Publisher = true;
                _store.Save(record);
                var entry = new TaskEntry(digest, record)
                {
                    Manifest = manifest,
                    Registered = true,
                    Content = ContentDigest.TryParse(manifest.ContentDigest, out var content) ? content : null,
                };
                // Queued before the run starts: the run reads it once it has joined the swarm.
                entry.Inbox.Deliver(message);
                Register(entry);
            }
        }
        if (refusal is not null)
        {
            ((ISwarmReporter)_scheduler).SourceFailed(digest, refusal, permanent: false, TaskErrorKind.Other);
        }
    }

    private static string? InvalidManifest(ContentDigest digest, Manifest manifest)
    {
        try
        {
            CheckManifest(digest, manifest);
            return null;
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
    }

    private void BecomeSource(TaskEntry entry, TaskDownloader downloader, FetchSource fetch)
    {
        if (!Uri.TryCreate(fetch.Url, UriKind.Absolute, out var url))
        {
            ((ISwarmReporter)_scheduler).SourceFailed(entry.Digest, "the scheduler sent a URL that does not parse", permanent: true, TaskErrorKind.Rejected);
            return;
        }
        var options = OriginRequestOptions.Default with
        {
            Headers = fetch.Headers.Select(h => new KeyValuePair<string, string>(h.Name, h.Value)).ToList(),
        };
        lock (_gate)
        {
            // Kept (in memory) to register the task again should the broker restart before it is sourced.
            entry.Registration ??= RegistrationOf(fetch);
        }
        ContentDigest? expected = ContentDigest.TryParse(fetch.ExpectedDigest, out var wanted) ? wanted
            : ContentDigest.TryParse(fetch.Manifest?.ContentDigest, out var known) ? known
            : null;
        downloader.FetchFromSource(new OriginPieceSource(_origins, url, options), expected);
    }

    /// <summary>Told to source a task it already holds complete: every digest and the content digest, at once.</summary>
    private void AnswerSourceFromStore(TaskEntry entry)
    {
        Manifest? manifest;
        ContentDigest? content;
        lock (_gate)
        {
            manifest = entry.Manifest;
            content = entry.IsUrlTask ? entry.Content : entry.Digest;
        }
        ISwarmReporter reporter = _scheduler;
        if (manifest is null || content is null || manifest.PieceDigests.Any(d => d.Length == 0))
        {
            reporter.SourceFailed(entry.Digest, $"agent {_runtime.PeerId} holds {entry.Digest} but not its piece digests", permanent: false, TaskErrorKind.Other);
            return;
        }
        _scheduler.Join(entry.Digest, PieceBitmap.Full(entry.Record.PieceCount), entry.Record.Publisher);
        reporter.PiecesSourced(entry.Digest, Enumerable.Range(0, manifest.PieceDigests.Count).ToList(),
            manifest.PieceDigests.Select(d => d.ToByteArray()).ToList());
        reporter.SourceDone(entry.Digest, content.Value);
    }
}

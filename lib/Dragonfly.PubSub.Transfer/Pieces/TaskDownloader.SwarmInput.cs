using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Swarm;

namespace Dragonfly.PubSub.Transfer.Pieces;

// What the scheduler tells a download (parents, their new pieces, a URL task's digests, its source,
// its failure): thread-safe entry points, callable before RunAsync, that queue events for the loop.
public sealed partial class TaskDownloader
{
    /// <summary>Replaces the parents to fetch from. Thread-safe; may be called before <see cref="RunAsync"/>.</summary>
    public void UpdateParents(IReadOnlyList<ParentPeer> parents)
    {
        ArgumentNullException.ThrowIfNull(parents);
        _events.Writer.TryWrite(new ParentsChanged(parents.ToArray()));
    }

    /// <summary>
    /// The broker's ticket that lets this agent pull the task's pieces from other peers (issue 11); sent on
    /// each connection to a parent before the first request. Thread-safe.
    /// </summary>
    public void UseTicket(ReadOnlyMemory<byte> ticket)
    {
        if (!ticket.IsEmpty)
        {
            _fetcher.SetTicket(_key, ticket.ToArray());
        }
    }

    /// <summary>A parent gained pieces. Thread-safe.</summary>
    public void PiecesAvailable(string peerId, IReadOnlyList<int> indexes)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        ArgumentNullException.ThrowIfNull(indexes);
        _events.Writer.TryWrite(new PiecesGained(peerId, indexes.ToArray()));
    }

    /// <summary>
    /// The scheduler sent piece digests of a URL task (parallel lists). The first digest known for
    /// a piece stands; entries out of range or not 32 bytes long are ignored. Thread-safe; may be
    /// called before <see cref="RunAsync"/>.
    /// </summary>
    public void PieceDigestsLearned(IReadOnlyList<int> indexes, IReadOnlyList<ReadOnlyMemory<byte>> digests)
    {
        ArgumentNullException.ThrowIfNull(indexes);
        ArgumentNullException.ThrowIfNull(digests);
        if (indexes.Count != digests.Count)
        {
            throw new ArgumentException($"{indexes.Count} indexes but {digests.Count} digests", nameof(digests));
        }
        List<int>? learned = null;
        for (var k = 0; k < indexes.Count; k++)
        {
            var index = indexes[k];
            var digest = digests[k];
            if ((uint)index >= (uint)_digests.Length || digest.Length != SHA256.HashSizeInBytes)
            {
                continue;
            }
            var known = Interlocked.CompareExchange(ref _digests[index], digest.ToArray(), null);
            if (known is null)
            {
                (learned ??= []).Add(index);
            }
            else if (!known.AsSpan().SequenceEqual(digest.Span))
            {
                TransferLog.DigestConflict(_logger, Digest, index);
            }
        }
        if (learned is not null)
        {
            Interlocked.Increment(ref _digestVersion);
            _events.Writer.TryWrite(new DigestsLearned([.. learned]));
        }
    }

    /// <summary>
    /// This download becomes the source of its URL task: pieces no parent can send are read from
    /// <paramref name="source"/>. When the whole file is in, it must hash to
    /// <paramref name="expectedContent"/> (when given); the scheduler then hears
    /// <see cref="ISwarmReporter.SourceDone"/> or <see cref="ISwarmReporter.SourceFailed"/>.
    /// A later call replaces the source. Thread-safe; may be called before <see cref="RunAsync"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not a URL task.</exception>
    public void FetchFromSource(IPieceSource source, ContentDigest? expectedContent)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!_urlTask)
        {
            throw new InvalidOperationException($"{Digest} is a content task; only a URL task has a source");
        }
        var request = new SourceRequest(source, expectedContent);
        lock (_stateLock)
        {
            _sourceRequest = request;
        }
        _events.Writer.TryWrite(new SourceAssigned(request));
    }

    /// <summary>The whole file's SHA-256 became known (the source finished, or the user named it): checked at the end. Thread-safe.</summary>
    public void ContentDigestLearned(ContentDigest content)
    {
        lock (_stateLock)
        {
            _knownContent = content;
        }
    }

    /// <summary>The scheduler failed the task (<see cref="FailFromSwarm"/>): the run is ending, whatever it still does.</summary>
    public bool FailedBySwarm
    {
        get
        {
            lock (_stateLock)
            {
                return _swarmError is not null;
            }
        }
    }

    /// <summary>
    /// The task failed for good (the scheduler's <c>TaskFailed</c>): <see cref="RunAsync"/> returns a
    /// failed outcome with <paramref name="error"/> and leaves nothing behind. Thread-safe; may be
    /// called before <see cref="RunAsync"/>.
    /// </summary>
    public void FailFromSwarm(string error, TaskErrorKind kind = TaskErrorKind.Other)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(error);
        lock (_stateLock)
        {
            _swarmError ??= (error, kind);
        }
        _events.Writer.TryWrite(new SwarmFailed(error, kind));
    }
}

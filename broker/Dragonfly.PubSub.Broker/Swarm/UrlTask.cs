using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// The source side of one URL task, owned by the <see cref="SwarmCoordinator"/>: where it comes from
/// (URL and headers, in memory only), which piece digests the source has reported, who fetches it
/// now and who failed to.
/// </summary>
internal sealed class UrlTask
{
    public UrlTask(UrlTaskRegistration registration, int pieceSize, DateTimeOffset createdAt, long incarnation = 0)
    {
        Id = registration.TaskId;
        Incarnation = incarnation;
        Url = registration.Url;
        RedactedUrl = registration.RedactedUrl;
        Headers = registration.Headers;
        Layout = new PieceLayout(registration.Size, pieceSize);
        Digests = new ByteString?[Layout.PieceCount];
        ExpectedDigest = registration.ExpectedDigest;
        Name = registration.Name;
        Topic = registration.Topic;
        Labels = registration.Labels;
        Requester = registration.Requester;
        CreatedAt = createdAt;
        LastActivity = createdAt;
        Private = UrlTasks.CredentialFingerprint.Of(registration.Url, registration.Headers, []).Length > 0;
        Admit(registration.Requester, registration.Topic);
    }

    public string Id { get; }

    /// <summary>Which of the tasks with this id it is (a failed task is forgotten; the next registration makes a new one).</summary>
    public long Incarnation { get; }
    public Uri Url { get; }
    public string RedactedUrl { get; }
    public IReadOnlyList<Header> Headers { get; }
    public PieceLayout Layout { get; }

    /// <summary>
    /// The headers carry credentials (a registry login, a bearer token, a cookie): they may go only
    /// to a seed peer or back to the peer that registered the task with them, never to another agent.
    /// </summary>
    public bool CarriesCredentials => Headers.Any(h =>
        h.Name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
        || h.Name.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase)
        || h.Name.Equals("Cookie", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The first registration proved access with credentials (headers, user info, a signed query): only
    /// peers that registered it themselves (each checked at the origin with its own), a seed, or
    /// subscribers of a topic it was announced on may join it (issue 11, attack 4).
    /// </summary>
    public bool Private { get; }

    /// <summary>Peers that registered this task (their credentials passed the origin), and the topics it was announced on.</summary>
    public HashSet<string> Admitted { get; } = new(StringComparer.Ordinal);
    public HashSet<string> Topics { get; } = new(StringComparer.Ordinal);

    /// <summary>Notes a registration: its requester may join, and so may subscribers of its topic.</summary>
    public void Admit(string requester, string topic)
    {
        if (requester.Length > 0)
        {
            Admitted.Add(requester);
        }
        if (topic.Length > 0)
        {
            Topics.Add(topic);
        }
    }

    /// <summary>SHA-256 of each piece as the source reported it; null while unknown.</summary>
    public ByteString?[] Digests { get; }
    public int KnownDigests { get; private set; }

    /// <summary>--digest of the first request that gave one.</summary>
    public string? ExpectedDigest { get; set; }

    /// <summary>What the whole file hashed to, once a source finished it (or known up front from the catalogue).</summary>
    public string? ContentDigest { get; set; }

    public string Name { get; }
    public string Topic { get; }
    public IReadOnlyDictionary<string, string> Labels { get; }
    public string Requester { get; }
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Registration keys that lead to this task without a stat of the origin.</summary>
    public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

    /// <summary>The peer told to fetch it (FetchSource), until it finishes or fails.</summary>
    public string? Source { get; set; }
    public bool SourceIsSeed { get; set; }

    /// <summary>Peers whose source attempt failed: never asked again for this task.</summary>
    public HashSet<string> FailedSources { get; } = new(StringComparer.Ordinal);
    public int FailedAttempts { get; set; }
    public string? LastError { get; set; }

    /// <summary>What <see cref="LastError"/> means, as the source reported it.</summary>
    public SourceErrorKind LastErrorKind { get; set; }

    /// <summary>Every piece was in the swarm and the content digest is known (TaskSourced was sent).</summary>
    public bool Sourced { get; set; }

    /// <summary>Since when a sourced task's swarm misses a piece; null while it holds them all.</summary>
    public DateTimeOffset? LostSince { get; set; }

    /// <summary>The last registration, join or leave: a task nobody touches is forgotten eventually.</summary>
    public DateTimeOffset LastActivity { get; set; }

    public bool AllDigestsKnown => KnownDigests == Layout.PieceCount;

    /// <summary>Learns a digest; false when it was known already (a differing one is not taken).</summary>
    public bool Learn(int index, ByteString digest, out bool conflicting)
    {
        conflicting = false;
        if (Digests[index] is { } known)
        {
            conflicting = !known.Equals(digest);
            return false;
        }
        Digests[index] = digest;
        KnownDigests++;
        return true;
    }

    /// <summary>The manifest as far as it is known: empty entries for pieces without a digest yet.</summary>
    public Manifest ToManifest()
    {
        var manifest = new Manifest
        {
            Digest = Id,
            Name = Name,
            Size = Layout.Size,
            PieceSize = Layout.PieceSize,
            Topic = Topic,
            Publisher = Requester,
            CreatedAtUnixMs = CreatedAt.ToUnixTimeMilliseconds(),
            UrlTask = true,
            ContentDigest = ContentDigest ?? ExpectedDigest ?? "",
        };
        foreach (var digest in Digests)
        {
            manifest.PieceDigests.Add(digest ?? ByteString.Empty);
        }
        foreach (var (key, value) in Labels)
        {
            manifest.Labels[key] = value;
        }
        if (Private)
        {
            // Kept with the stored manifest, so that joins by id stay checked after the live task is gone.
            manifest.Labels[PrivateUrlTasks.Label] = PrivateUrlTasks.Required;
        }
        return manifest;
    }

    /// <summary>The known digests as a PieceDigests event.</summary>
    public PieceDigests KnownDigestsEvent()
    {
        var message = new PieceDigests { Digest = Id };
        for (var i = 0; i < Digests.Length; i++)
        {
            if (Digests[i] is { } digest)
            {
                message.Indexes.Add(i);
                message.Digests.Add(digest);
            }
        }
        return message;
    }
}

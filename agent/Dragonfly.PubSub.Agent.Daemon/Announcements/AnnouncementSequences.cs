using LiteDB;

namespace Dragonfly.PubSub.Agent.Announcements;

/// <summary>
/// The last announcement an agent acted on per output path (<c>&lt;topic&gt;/&lt;name&gt;</c>): its broker
/// sequence number and digest, kept in <c>&lt;data-dir&gt;/announcements.db</c> so that a replayed older
/// announcement cannot roll a file back after a restart either. A file of its own (the task store belongs
/// to the transfer library); the data dir's lock (agent.lock) keeps a second process off it. Opened on
/// first use: an agent without subscriptions never creates it. Thread-safe.
/// </summary>
public sealed class AnnouncementSequences(string dataDir) : IDisposable
{
    public const string FileName = "announcements.db";

    private readonly Lock _lock = new();
    private LiteDatabase? _database;
    private ILiteCollection<BsonDocument>? _paths;
    private bool _disposed;

    /// <summary>The last (sequence, digest) acted on for <paramref name="topic"/>/<paramref name="name"/>, or null.</summary>
    public (long Sequence, string Digest)? Last(string topic, string name)
    {
        lock (_lock)
        {
            return Paths().FindById(Key(topic, name)) is { } document
                ? (document["sequence"].AsInt64, document["digest"].AsString)
                : null;
        }
    }

    /// <summary>Records that the agent acted on <paramref name="sequence"/> (of <paramref name="digest"/>) for the output path.</summary>
    public void Record(string topic, string name, long sequence, string digest)
    {
        lock (_lock)
        {
            Paths().Upsert(new BsonDocument { ["_id"] = Key(topic, name), ["sequence"] = sequence, ["digest"] = digest });
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _database?.Dispose();
            _database = null;
            _paths = null;
        }
    }

    // A name holds no '/' (ArtifactName), so "<topic>/<name>" names one output path.
    private static string Key(string topic, string name) => topic + "/" + name;

    private ILiteCollection<BsonDocument> Paths()
    {
        if (_paths is null)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _database = new LiteDatabase(new ConnectionString { Filename = Path.Combine(dataDir, FileName), Connection = ConnectionType.Direct });
            _paths = _database.GetCollection("paths");
        }
        return _paths;
    }
}

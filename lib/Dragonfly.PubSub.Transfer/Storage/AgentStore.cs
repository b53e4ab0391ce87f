using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using LiteDB;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// The agent's durable state in <c>&lt;data-dir&gt;/agent.db</c>: its peer id and its tasks. One
/// instance per process (LiteDB direct mode is fast but must not be shared between processes), so
/// a lock file keeps a second agent off the same data directory. Thread-safe.
/// <para>
/// A task's manifest lives in a collection of its own and is written only when the record carries
/// a different manifest array than last time: downloads save their record every ~50 ms, and the
/// manifest (34 bytes per piece) would otherwise be rewritten with every bitmap update.
/// </para>
/// </summary>
public sealed class AgentStore : IDisposable
{
    public const string DatabaseFileName = "agent.db";
    public const string LockFileName = "agent.lock";

    private const string PeerIdKey = "peer-id";

    private readonly FileStream _lock;
    private readonly LiteDatabase _db;
    private readonly ILiteCollection<TaskRecord> _tasks;
    private readonly ILiteCollection<BsonDocument> _manifests;
    private readonly Dictionary<string, byte[]> _storedManifests = new(StringComparer.Ordinal);

    private AgentStore(FileStream lockFile, LiteDatabase db, string dbPath, string peerId)
    {
        _lock = lockFile;
        DatabasePath = dbPath;
        _db = db;
        _tasks = db.GetCollection<TaskRecord>("tasks");
        _manifests = db.GetCollection("manifests");
        PeerId = peerId;
    }

    /// <summary>This agent's id on the swarm: generated once (<c>agent-</c> + 12 hex digits), then kept.</summary>
    public string PeerId { get; }

    public string DatabasePath { get; }

    /// <summary>
    /// Opens (creating as needed) the store of <paramref name="dataDir"/>. Throws
    /// <see cref="UserFacingException"/> when another agent holds the directory or the database
    /// cannot be read.
    /// </summary>
    // LiteDB maps TaskRecord by reflection: a trimmed (Native AOT) dfagent must keep all of it.
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(TaskRecord))]
    public static AgentStore Open(string dataDir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDir);
        var dir = Path.GetFullPath(dataDir);
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"cannot create data directory {dir}: {e.Message}; choose another with --data-dir", inner: e);
        }

        var lockPath = Path.Combine(dir, LockFileName);
        FileStream lockFile;
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second agent fails here.
            lockFile = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException(
                $"data directory {dir} is in use by another dfagent (cannot lock {lockPath}); stop that agent or pass another --data-dir", inner: e);
        }

        var dbPath = Path.Combine(dir, DatabaseFileName);
        LiteDatabase? db = null;
        try
        {
            var mapper = new BsonMapper { EmptyStringToNull = false, TrimWhitespace = false, SerializeNullValues = false };
            mapper.Entity<TaskRecord>().Ignore(t => t.ManifestBytes);
            db = new LiteDatabase(new ConnectionString { Filename = dbPath, Connection = ConnectionType.Direct }, mapper)
            {
                UtcDate = true,
            };
            var meta = db.GetCollection("meta");
            var peerId = meta.FindById(PeerIdKey)?["value"].AsString;
            if (string.IsNullOrEmpty(peerId))
            {
                peerId = "agent-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
                meta.Upsert(new BsonDocument { ["_id"] = PeerIdKey, ["value"] = peerId });
            }
            var tasks = db.GetCollection<TaskRecord>("tasks");
            tasks.EnsureIndex(t => t.State);
            return new AgentStore(lockFile, db, dbPath, peerId);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A damaged file surfaces as anything from LiteException to ArgumentOutOfRangeException.
            try
            {
                db?.Dispose();
            }
            catch (Exception disposeError) when (disposeError is not OutOfMemoryException)
            {
                // The open already failed; that is the error to report.
            }
            lockFile.Dispose();
            var reason = e.Message.Split('\n', 2)[0].Trim();
            throw new UserFacingException(
                $"the agent database {dbPath} cannot be read ({reason}); move it away to start with an empty one", inner: e);
        }
    }

    public TaskRecord? Find(ContentDigest digest)
    {
        var record = _tasks.FindById(digest.ToString());
        if (record is not null)
        {
            record.ManifestBytes = LoadManifest(record.Id);
        }
        return record;
    }

    /// <summary>Every task, oldest first.</summary>
    public IReadOnlyList<TaskRecord> All()
    {
        var records = _tasks.FindAll().OrderBy(t => t.CreatedAt).ThenBy(t => t.Id, StringComparer.Ordinal).ToList();
        foreach (var record in records)
        {
            record.ManifestBytes = LoadManifest(record.Id);
        }
        return records;
    }

    /// <summary>Inserts or replaces the record under its <see cref="TaskRecord.Id"/>.</summary>
    public void Save(TaskRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!ContentDigest.TryParse(record.Id, out _))
        {
            throw new ArgumentException($"task id '{record.Id}' is not a sha256: content id", nameof(record));
        }
        var manifest = record.ManifestBytes ?? [];
        bool manifestChanged;
        lock (_storedManifests)
        {
            manifestChanged = !_storedManifests.TryGetValue(record.Id, out var stored) || !ReferenceEquals(stored, manifest);
        }
        if (!manifestChanged)
        {
            _tasks.Upsert(record);
            return;
        }
        _db.BeginTrans();
        try
        {
            _tasks.Upsert(record);
            _manifests.Upsert(new BsonDocument { ["_id"] = record.Id, ["bytes"] = manifest });
            _db.Commit();
        }
        catch
        {
            _db.Rollback();
            throw;
        }
        lock (_storedManifests)
        {
            _storedManifests[record.Id] = manifest;
        }
    }

    public void Delete(ContentDigest digest)
    {
        var id = digest.ToString();
        _tasks.Delete(id);
        _manifests.Delete(id);
        lock (_storedManifests)
        {
            _storedManifests.Remove(id);
        }
    }

    private byte[] LoadManifest(string id)
    {
        var bytes = _manifests.FindById(id)?["bytes"].AsBinary ?? [];
        lock (_storedManifests)
        {
            _storedManifests[id] = bytes;
        }
        return bytes;
    }

    public void Dispose()
    {
        _db.Dispose();
        _lock.Dispose();
    }
}

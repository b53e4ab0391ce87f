using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tests.Storage;

public sealed class AgentStoreTests : IDisposable
{
    private const string DigestA = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string DigestB = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Save_ThenFind_RoundTripsEveryField()
    {
        var created = new DateTime(2025, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc);
        var record = new TaskRecord
        {
            Id = DigestA,
            Name = "app.tar",
            Topic = "releases/app",
            Size = 123_456_789_012,
            PieceSize = 4 << 20,
            PieceCount = 29_436,
            State = TaskState.Running,
            Bitmap = [1, 2, 3],
            ManifestBytes = [9, 8, 7, 6],
            BytesFromPeers = 77,
            BytesFromSource = 5,
            OutputPath = "/out/releases/app/app.tar",
            Error = null,
            Publisher = true,
            CreatedAt = created,
            UpdatedAt = created.AddSeconds(1),
        };

        using (var store = AgentStore.Open(_dir.Path))
        {
            store.Save(record);
        }
        using var reopened = AgentStore.Open(_dir.Path);
        var found = reopened.Find(ContentDigest.Parse(DigestA));

        Assert.NotNull(found);
        Assert.Equal(record.Name, found.Name);
        Assert.Equal(record.Topic, found.Topic);
        Assert.Equal(record.Size, found.Size);
        Assert.Equal(record.PieceSize, found.PieceSize);
        Assert.Equal(record.PieceCount, found.PieceCount);
        Assert.Equal(TaskState.Running, found.State);
        Assert.Equal(record.Bitmap, found.Bitmap);
        Assert.Equal(record.ManifestBytes, found.ManifestBytes);
        Assert.Equal(77, found.BytesFromPeers);
        Assert.Equal(5, found.BytesFromSource);
        Assert.Equal(record.OutputPath, found.OutputPath);
        Assert.Null(found.Error);
        Assert.True(found.Publisher);
        Assert.Equal(created, found.CreatedAt);
        Assert.Equal(DateTimeKind.Utc, found.CreatedAt.Kind);
        Assert.Equal(created.AddSeconds(1), found.UpdatedAt);
    }

    [Fact]
    public void EmptyStrings_StayEmptyStrings()
    {
        using var store = AgentStore.Open(_dir.Path);
        store.Save(new TaskRecord { Id = DigestA, Name = "", Topic = "" });

        var found = store.Find(ContentDigest.Parse(DigestA))!;

        Assert.Equal("", found.Name);
        Assert.Equal("", found.Topic);
        Assert.Empty(found.ManifestBytes);
    }

    [Fact]
    public void Save_WithANewManifest_ReplacesTheStoredOne()
    {
        using var store = AgentStore.Open(_dir.Path);
        var record = new TaskRecord { Id = DigestA, ManifestBytes = [1] };
        store.Save(record);
        record.Bitmap = [0xFF];
        store.Save(record);
        record.ManifestBytes = [2, 2];
        store.Save(record);

        var found = store.Find(ContentDigest.Parse(DigestA))!;

        Assert.Equal([2, 2], found.ManifestBytes);
        Assert.Equal([0xFF], found.Bitmap);
    }

    [Fact]
    public void PeerId_IsGeneratedOnceAndKeptAcrossReopen()
    {
        string first;
        using (var store = AgentStore.Open(_dir.Path))
        {
            first = store.PeerId;
        }
        using var again = AgentStore.Open(_dir.Path);

        Assert.Matches("^agent-[0-9a-f]{12}$", first);
        Assert.Equal(first, again.PeerId);
        using var other = new TempDirectory();
        using var elsewhere = AgentStore.Open(other.Path);
        Assert.NotEqual(first, elsewhere.PeerId);
    }

    [Fact]
    public void All_ListsOldestFirst_AndDeleteRemoves()
    {
        using var store = AgentStore.Open(_dir.Path);
        store.Save(new TaskRecord { Id = DigestA, CreatedAt = new DateTime(2025, 1, 2, 0, 0, 0, DateTimeKind.Utc) });
        store.Save(new TaskRecord { Id = DigestB, CreatedAt = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc), ManifestBytes = [4] });

        Assert.Equal([DigestB, DigestA], store.All().Select(r => r.Id));
        Assert.Equal([4], store.All()[0].ManifestBytes);

        store.Delete(ContentDigest.Parse(DigestB));
        Assert.Equal([DigestA], store.All().Select(r => r.Id));
        Assert.Null(store.Find(ContentDigest.Parse(DigestB)));
    }

    [Fact]
    public void Save_RejectsAnIdThatIsNotAContentId()
    {
        using var store = AgentStore.Open(_dir.Path);

        Assert.Throws<ArgumentException>(() => store.Save(new TaskRecord { Id = "app.tar" }));
    }

    [Fact]
    public void Open_WhileAnotherStoreHoldsTheDirectory_FailsWithAClearMessage()
    {
        using var store = AgentStore.Open(_dir.Path);

        var e = Assert.Throws<UserFacingException>(() => AgentStore.Open(_dir.Path));

        Assert.Contains("in use by another dfagent", e.Message);
        Assert.Equal(ExitCodes.Failed, e.ExitCode);
    }

    [Fact]
    public void Open_OnACorruptDatabase_FailsWithAClearMessage()
    {
        File.WriteAllBytes(Path.Combine(_dir.Path, AgentStore.DatabaseFileName), Enumerable.Repeat((byte)0x5A, 64 * 1024).ToArray());

        var e = Assert.Throws<UserFacingException>(() => AgentStore.Open(_dir.Path));

        Assert.Contains("cannot be read", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The lock is released: once the file is moved away the directory opens again.
        File.Delete(Path.Combine(_dir.Path, AgentStore.DatabaseFileName));
        using var store = AgentStore.Open(_dir.Path);
        Assert.Empty(store.All());
    }

    [Fact]
    public void Open_CreatesMissingDirectories()
    {
        var nested = _dir.Combine("a", "b");

        using var store = AgentStore.Open(nested);

        Assert.True(File.Exists(Path.Combine(nested, AgentStore.DatabaseFileName)));
    }
}

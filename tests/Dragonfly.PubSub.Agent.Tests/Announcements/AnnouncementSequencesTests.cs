using Dragonfly.PubSub.Agent.Announcements;

namespace Dragonfly.PubSub.Agent.Tests.Announcements;

/// <summary>The agent's memory of the last announcement acted on per output path, kept across restarts.</summary>
public sealed class AnnouncementSequencesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfagent-seq-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LastSequence_IsKeptPerOutputPath_AcrossARestart()
    {
        using (var sequences = new AnnouncementSequences(_dir))
        {
            Assert.Null(sequences.Last("releases/app", "app.tar"));
            sequences.Record("releases/app", "app.tar", 10, "sha256:aa");
            sequences.Record("releases/app", "app.tar", 12, "sha256:bb");
            sequences.Record("releases/app", "tool.tar", 3, "sha256:cc");
        }

        using var restarted = new AnnouncementSequences(_dir);
        Assert.Equal((12L, "sha256:bb"), restarted.Last("releases/app", "app.tar"));
        Assert.Equal((3L, "sha256:cc"), restarted.Last("releases/app", "tool.tar"));
        Assert.Null(restarted.Last("releases/other", "app.tar"));
    }

    [Fact]
    public void NothingIsWritten_UntilAnAnnouncementIsRecorded()
    {
        using (var sequences = new AnnouncementSequences(_dir))
        {
        }

        Assert.False(File.Exists(Path.Combine(_dir, AnnouncementSequences.FileName)));
    }
}

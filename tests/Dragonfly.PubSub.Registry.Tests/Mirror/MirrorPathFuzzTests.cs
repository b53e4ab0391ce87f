using CsCheck;
using Dragonfly.PubSub.Registry.Mirror;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>
/// Issue 11: the registry mirror's request-path parser, which reads every path a local process (or an image
/// reference, through containerd) sends to the agent's mirror port, fuzzed for a few seconds per run. For any
/// path: <see cref="MirrorPath.Parse"/> answers a kind, never throws; what it lets through to a registry is a
/// valid repository name with a valid tag or sha256 digest; refusals carry a distribution error code and one
/// line of bounded length; it ends promptly (the name grammar is a regular expression: no catastrophic
/// backtracking) and allocates at most a bounded multiple of the path.
/// </summary>
public sealed class MirrorPathFuzzTests
{
    private const int Seconds = 3;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>Pieces of real paths, so that generated paths reach every branch, not only "unsupported".</summary>
    private static readonly string[] Parts =
    [
        "/v2", "/v2/", "/", "manifests/", "/manifests/", "blobs/", "/blobs/", "library", "apps", "demo", "a", "-", "--", "_", "__", ".", "..",
        "sha256:", new string('a', 64), new string('0', 63), "latest", "v1.0", "%2F", "%00", ":", "@", "?", "#", "\\", " ", "é", "\uD800", "\0",
        "A", "tags/list", "uploads/", new string('a', 300), string.Concat(Enumerable.Repeat("a-", 200)) + "!", string.Concat(Enumerable.Repeat("a__", 200)) + "_",
    ];

    /// <summary>Well-formed pulls with a generated name and reference: reaches the manifest and blob answers.</summary>
    private static readonly Gen<string> Pulls = Gen.Select(
        Gen.OneOf(Gen.Const("apps/demo"), Gen.Const("library/a"), Gen.String[Gen.Char["a-z0-9._/"], 0, 40]),
        Gen.OneOf(Gen.Const("manifests"), Gen.Const("blobs")),
        Gen.OneOf(Gen.Const("sha256:" + new string('b', 64)), Gen.Const("latest"), Gen.String[Gen.Char["a-f0-9:sha256"], 0, 80]))
        .Select(p => $"/v2/{p.Item1}/{p.Item2}/{p.Item3}");

    private static readonly Gen<string> Paths = Gen.OneOf(
        Pulls,
        Gen.Int[0, Parts.Length - 1].Array[0, 12].Select(indexes => string.Concat(indexes.Select(i => Parts[i]))),
        Gen.Int[0, Parts.Length - 1].Array[0, 12].Select(indexes => "/v2/" + string.Concat(indexes.Select(i => Parts[i]))),
        Gen.String[0, 300].Select(text => "/v2/" + text),
        Gen.String[0, 300]);

    [Fact]
    public async Task Parse_OfAnyPath_AnswersAKind_PromptlyAndWithinBoundedMemory()
    {
        var kinds = new HashSet<MirrorPathKind>();
        var run = Task.Run(() => Paths.Sample(path =>
        {
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var parsed = MirrorPath.Parse(path);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            kinds.Add(parsed.Kind);
            switch (parsed.Kind)
            {
                case MirrorPathKind.Manifest:
                    Assert.True(ImageReference.IsValidRepository(parsed.Name), $"'{parsed.Name}' let through as a repository");
                    Assert.True(parsed.Digest is not null || ImageReference.IsValidTag(parsed.Reference), $"'{parsed.Reference}' let through as a tag");
                    break;
                case MirrorPathKind.Blob:
                    Assert.True(ImageReference.IsValidRepository(parsed.Name), $"'{parsed.Name}' let through as a repository");
                    Assert.NotNull(parsed.Digest);
                    break;
                case MirrorPathKind.Invalid:
                    Assert.Contains(parsed.ErrorCode ?? "", new[] { "NAME_INVALID", "DIGEST_INVALID", "TAG_INVALID" });
                    Assert.True(parsed.Error is { Length: > 0 and < 600 } && !parsed.Error.Contains('\n'), $"the error is not one bounded line: {parsed.Error}");
                    break;
                case MirrorPathKind.Base or MirrorPathKind.Unsupported:
                    break;
                default:
                    Assert.Fail($"unknown kind {parsed.Kind}");
                    break;
            }
            var bound = (32L * path.Length) + (64 * 1024);
            Assert.True(allocated <= bound, $"parsing a path of {path.Length} characters allocated {allocated} bytes (bound {bound})");
        }, iter: 1_000_000, time: Seconds, threads: 1));
        var finished = await Task.WhenAny(run, Task.Delay(Deadline));
        Assert.True(finished == run, $"the fuzz run did not end within {Deadline.TotalSeconds:0} s: the path parser hangs on some input");
        await run;
        // The generators reach every kind of answer, or the property tested little.
        Assert.True(kinds.SetEquals(Enum.GetValues<MirrorPathKind>()), $"the generated paths reached only {string.Join(", ", kinds)}");
    }
}

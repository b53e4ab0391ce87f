using System.Globalization;
using System.Text;
using System.Text.Json;
using CsCheck;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Fuzzing;

/// <summary>
/// Issue 11: the announcement JSON parser, which reads whatever anyone who can publish on MQTT sends
/// (an external MQTT broker, a compromised member), fuzzed for a few seconds per run. For any bytes:
/// <see cref="Announcement.TryParse"/> returns an announcement or a parse error, never throws; what it
/// accepts can be signed-checked (<see cref="AnnouncementSigning.BytesToSign"/>) without throwing; it ends
/// promptly and allocates at most a bounded multiple of the input.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class AnnouncementFuzzTests
{
    private static readonly string ValidDigest = "sha256:" + new string('a', 64);

    /// <summary>A valid announcement's fields as JSON texts, which the generators replace and break.</summary>
    private static readonly Dictionary<string, string> ValidFields = new()
    {
        ["version"] = "1",
        ["digest"] = Json(ValidDigest),
        ["name"] = Json("app.bin"),
        ["size"] = "5000000",
        ["pieceSize"] = "1048576",
        ["pieceCount"] = "5",
        ["topic"] = Json("releases/app"),
        ["publisher"] = Json("agent-0123456789ab"),
        ["createdAt"] = Json("2026-12-04T10:00:00+00:00"),
        ["labels"] = "{\"a\":\"b\"}",
        ["sequence"] = "1764842400000",
    };

    private static readonly string[] Keys =
        [.. ValidFields.Keys, "signer", "signature", "urlTask", "contentDigest", "blobs", "unknown", "Digest", ""];

    private static readonly Gen<string> Strings = Gen.OneOf(
        Gen.String[0, 40].Select(Json),
        Gen.Const(Json(ValidDigest)),
        Gen.Const(Json("sha256:" + new string('A', 64))),
        Gen.Const(Json("../../etc/passwd")),
        Gen.Const(Json("releases/#")),
        Gen.Const("\"\\ud800\""),
        Gen.Const(Json(new string('x', 5000))),
        Gen.Const(Json(ImageBlobLabels.ImageAnnouncement)));

    private static readonly Gen<string> Scalars = Gen.OneOf(
        Gen.Const("null"), Gen.Const("true"), Gen.Const("false"), Gen.Const("-0"), Gen.Const("1e400"),
        Gen.Const("99999999999999999999999999"), Gen.Const("-1"),
        Gen.Long.Select(l => l.ToString(CultureInfo.InvariantCulture)),
        Gen.Int.Select(i => i.ToString(CultureInfo.InvariantCulture)),
        Strings);

    /// <summary>Arrays and objects, nested from flat up to far beyond the parser's depth limit.</summary>
    private static readonly Gen<string> Values = Gen.OneOf(
        Scalars,
        Scalars.Array[0, 30].Select(items => "[" + string.Join(",", items) + "]"),
        Gen.Select(Strings, Scalars).Array[0, 20].Select(pairs => "{" + string.Join(",", pairs.Select(p => p.Item1 + ":" + p.Item2)) + "}"),
        Gen.Int[0, 300].Select(depth => new string('[', depth) + "1" + new string(']', depth)),
        Gen.Int[0, 300].Select(depth => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)),
        Gen.Const("{\"dragonfly.io/kind\":\"image\"}"),
        Gen.Const("{\"a\":null}"));

    /// <summary>A valid announcement with a few fields replaced, dropped or added: reaches the checks behind the JSON reader.</summary>
    private static readonly Gen<byte[]> Edited = Gen.Select(Gen.Int[0, Keys.Length - 1], Values, Gen.Bool).Array[1, 4].Select(edits =>
    {
        var fields = new Dictionary<string, string>(ValidFields);
        foreach (var (key, value, drop) in edits)
        {
            if (drop)
            {
                fields.Remove(Keys[key]);
            }
            else
            {
                fields[Keys[key]] = value;
            }
        }
        return Encoding.UTF8.GetBytes("{" + string.Join(",", fields.Select(f => Json(f.Key) + ":" + f.Value)) + "}");
    });

    /// <summary>A valid announcement's bytes with a few bytes inserted or removed somewhere.</summary>
    private static readonly Gen<byte[]> Mutated = Gen.Select(Gen.Int[0, 400], Gen.Byte.Array[0, 8], Gen.Int[0, 8]).Array[1, 3].Select(mutations =>
    {
        var bytes = Encoding.UTF8.GetBytes("{" + string.Join(",", ValidFields.Select(f => Json(f.Key) + ":" + f.Value)) + "}").ToList();
        foreach (var (at, insert, remove) in mutations)
        {
            var position = Math.Min(at, bytes.Count);
            bytes.RemoveRange(position, Math.Min(remove, bytes.Count - position));
            bytes.InsertRange(position, insert);
        }
        return bytes.ToArray();
    });

    [Fact]
    public Task TryParse_OfAnyBytes_AnswersAnnouncementOrError_PromptlyAndWithinBoundedMemory() =>
        FuzzBounds.WithinDeadlineAsync(() =>
            Gen.OneOf(Gen.Byte.Array[0, 600], Edited, Mutated).Sample(Check, iter: 1_000_000, time: FuzzBounds.Seconds, threads: 1));

    [Fact]
    public void TheGenerators_ReachAcceptedAndRefusedAnnouncements()
    {
        // A property that only ever sees garbage tests nothing behind the JSON reader: both outcomes must occur.
        var accepted = 0;
        var refusedAfterReading = 0;
        Edited.Sample(bytes =>
        {
            var parsed = Announcement.TryParse(bytes, out var error);
            if (parsed is not null)
            {
                accepted++;
            }
            else if (error is not null && !error.StartsWith("not a valid announcement JSON", StringComparison.Ordinal))
            {
                refusedAfterReading++;
            }
        }, iter: 2000, threads: 1);
        Assert.True(accepted > 0 && refusedAfterReading > 0, $"accepted {accepted}, refused after reading {refusedAfterReading}");
    }

    [Theory]
    [InlineData("publisher", "null")]
    [InlineData("labels", "null")]
    [InlineData("labels", "{\"a\":null}")]
    public void NullWhereAStringOrObjectBelongs_IsRefused_NotACrashLater(string field, string value)
    {
        // Found while writing the fuzz property: these parsed, then the signature bytes threw on them.
        var fields = new Dictionary<string, string>(ValidFields) { [field] = value };
        var parsed = Announcement.TryParse(Encoding.UTF8.GetBytes("{" + string.Join(",", fields.Select(f => Json(f.Key) + ":" + f.Value)) + "}"), out var error);
        Assert.Null(parsed);
        Assert.Equal("publisher, labels and label values must not be null", error);
    }

    private static void Check(byte[] input)
    {
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var parsed = Announcement.TryParse(input, out var error);
        if (parsed is not null)
        {
            Assert.Null(error);
            // What the agent does next with an accepted announcement must not throw either.
            Assert.NotEmpty(AnnouncementSigning.BytesToSign(parsed));
        }
        else
        {
            Assert.False(string.IsNullOrEmpty(error), "a refusal without a reason");
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var bound = (64L * input.Length) + (256 * 1024);
        Assert.True(allocated <= bound, $"parsing {input.Length} bytes allocated {allocated} bytes (bound {bound})");
    }

    private static string Json(string text) => JsonSerializer.Serialize(text);
}

using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;

namespace Dragonfly.PubSub.Contracts;

/// <summary>Helpers around the proto <see cref="Manifest"/>.</summary>
public static class Manifests
{
    public static PieceLayout Layout(this Manifest manifest) => new(manifest.Size, manifest.PieceSize);

    /// <summary>Null when the manifest is internally consistent; otherwise the first problem.</summary>
    public static string? Validate(this Manifest manifest)
    {
        if (!ContentDigest.TryParse(manifest.Digest, out _))
        {
            return $"digest '{manifest.Digest}' is not a sha256: content id";
        }
        if (ArtifactName.Validate(manifest.Name) is { } nameError)
        {
            return nameError;
        }
        if (TopicName.ValidateTopic(manifest.Topic) is { } topicError)
        {
            return topicError;
        }
        if (!manifest.Layout().IsSupported)
        {
            return $"size {manifest.Size} or piece size {manifest.PieceSize} is out of range";
        }
        var layout = manifest.Layout();
        if (manifest.PieceDigests.Count != layout.PieceCount)
        {
            return $"the manifest lists {manifest.PieceDigests.Count} piece digests, the layout needs {layout.PieceCount}";
        }
        if (manifest.PieceDigests.Any(d => d.Length != SHA256.HashSizeInBytes))
        {
            return "a piece digest is not 32 bytes long";
        }
        return null;
    }

    /// <summary>
    /// The manifest as an announcement carries it (<see cref="Announcement.Manifest"/>): base64 of its
    /// protobuf bytes, or null when it is longer than <paramref name="maxBytes"/> (0: never inlined).
    /// Without its <see cref="Manifest.PieceChain"/>: a subscription proves the content by the broker's
    /// binding, not by the chain, and without it a manifest of 1,024 pieces still fits the default limit
    /// (a dfget by content id asks the broker for the whole manifest; one of a task this agent knows only
    /// from an announcement hashes the whole file, as without a chain).
    /// </summary>
    public static string? ToInline(this Manifest manifest, int maxBytes)
    {
        if (manifest.PieceChain.Count > 0)
        {
            manifest = manifest.Clone();
            manifest.PieceChain.Clear();
        }
        var size = manifest.CalculateSize();
        return maxBytes > 0 && size <= maxBytes ? Convert.ToBase64String(manifest.ToByteArray()) : null;
    }

    /// <summary>The manifest an announcement carries; null with the reason when it cannot be read.</summary>
    public static Manifest? FromInline(string inline, out string? error)
    {
        try
        {
            var bytes = Convert.FromBase64String(inline);
            if (bytes.Length > Announcement.MaxInlineManifest)
            {
                error = $"it is longer than {Announcement.MaxInlineManifest} bytes";
                return null;
            }
            error = null;
            return Manifest.Parser.ParseFrom(bytes);
        }
        catch (Exception e) when (e is FormatException or InvalidProtocolBufferException)
        {
            error = $"it is not a base64 manifest: {e.Message}";
            return null;
        }
    }

    public static Announcement ToAnnouncement(this Manifest manifest) => new()
    {
        Digest = manifest.Digest,
        Name = manifest.Name,
        Size = manifest.Size,
        PieceSize = manifest.PieceSize,
        PieceCount = manifest.PieceDigests.Count,
        Topic = manifest.Topic,
        Publisher = manifest.Publisher,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(manifest.CreatedAtUnixMs),
        Labels = new Dictionary<string, string>(manifest.Labels),
    };

    /// <summary>
    /// Reads a file once, hashing every piece and the whole file (with its chaining values at the piece
    /// boundaries, <see cref="Manifest.PieceChain"/>, where <see cref="Sha256Chain"/> runs), and returns its manifest
    /// (topic, publisher and labels are the caller's to fill in). <paramref name="onPiece"/> sees each
    /// piece's bytes in order, e.g. to copy them into a content store in the same pass.
    /// </summary>
    public static async Task<Manifest> BuildAsync(
        Stream source, long size, string name, int? pieceSize,
        Func<int, ReadOnlyMemory<byte>, CancellationToken, ValueTask>? onPiece,
        IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var layout = PieceLayout.For(size, pieceSize);
        var manifest = new Manifest { Name = name, Size = size, PieceSize = layout.PieceSize };
        using var whole = new ChainRecordingHash(layout);
        var buffer = new byte[layout.PieceSize];
        long done = 0;
        for (var index = 0; index < layout.PieceCount; index++)
        {
            var length = layout.LengthOf(index);
            await source.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            var piece = buffer.AsMemory(0, length);
            whole.AppendPiece(index, piece.Span);
            manifest.PieceDigests.Add(ByteString.CopyFrom(SHA256.HashData(piece.Span)));
            if (onPiece is not null)
            {
                await onPiece(index, piece, cancellationToken).ConfigureAwait(false);
            }
            done += length;
            progress?.Report(done);
        }
        if (source.CanSeek && source.Position != source.Length)
        {
            throw new IOException("the file changed size while it was read; publish it again once it is complete");
        }
        manifest.Digest = ContentDigest.FromHash(whole.Finish()).ToString();
        manifest.PieceChain.AddRange(whole.Chain);
        return manifest;
    }
}

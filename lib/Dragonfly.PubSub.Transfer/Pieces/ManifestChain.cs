using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>A content manifest's SHA-256 chaining values (<c>piece_chain</c>), when it has a usable list of them.</summary>
internal static class ManifestChain
{
    /// <summary>
    /// One chaining value per piece but the last, 32 bytes each, at offsets a multiple of SHA-256's
    /// block; null for a URL task, a manifest without them, or a list that does not fit its layout,
    /// or where <see cref="Sha256Chain"/> cannot run here: the download then checks piece digests.
    /// </summary>
    public static byte[][]? From(Manifest manifest, PieceLayout layout)
    {
        if (manifest.UrlTask || manifest.PieceChain.Count == 0 || manifest.PieceChain.Count != layout.PieceCount - 1
            || layout.PieceSize % Sha256Chain.BlockSize != 0 || !Sha256Chain.IsSupported)
        {
            return null;
        }
        var chain = new byte[manifest.PieceChain.Count][];
        for (var i = 0; i < chain.Length; i++)
        {
            if (manifest.PieceChain[i].Length != Sha256Chain.StateSize)
            {
                return null;
            }
            chain[i] = manifest.PieceChain[i].ToByteArray();
        }
        return chain;
    }
}

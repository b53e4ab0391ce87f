using System.Security.Cryptography;
using Google.Protobuf;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The whole-file SHA-256 a publisher computes while it reads the file's pieces in order, recording
/// the hash's chaining value after each piece but the last (<see cref="Scheduler.Manifest.PieceChain"/>)
/// where <see cref="Sha256Chain.ForLayout"/> gives a chain; elsewhere a plain SHA-256 and no chain.
/// </summary>
public sealed class ChainRecordingHash : IDisposable
{
    private readonly PieceLayout _layout;
    private readonly Sha256Chain? _chain;
    private readonly IncrementalHash? _plain;
    private readonly List<ByteString> _states;
    private readonly byte[] _state = new byte[Sha256Chain.StateSize];

    public ChainRecordingHash(PieceLayout layout)
    {
        _layout = layout;
        _chain = Sha256Chain.ForLayout(layout);
        _plain = _chain is null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        _states = new List<ByteString>(_chain is null ? 0 : layout.PieceCount - 1);
    }

    /// <summary>The chaining values recorded so far (empty without a chain).</summary>
    public IReadOnlyList<ByteString> Chain => _states;

    /// <summary>Hashes piece <paramref name="index"/>; pieces come in order, each whole.</summary>
    public void AppendPiece(int index, ReadOnlySpan<byte> piece)
    {
        if (_chain is null)
        {
            _plain!.AppendData(piece);
            return;
        }
        _chain.Append(piece);
        if (index < _layout.PieceCount - 1)
        {
            _chain.WriteState(_state);
            _states.Add(ByteString.CopyFrom(_state));
        }
    }

    /// <summary>The SHA-256 of the whole file, once every piece was appended.</summary>
    public byte[] Finish()
    {
        var digest = new byte[Sha256Chain.StateSize];
        if (_chain is null)
        {
            _plain!.GetHashAndReset(digest);
        }
        else
        {
            _chain.Finish(digest);
        }
        return digest;
    }

    public void Dispose() => _plain?.Dispose();
}

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Which peer served each piece (fleet dashboard, issue 13): the scheduler learns it with the finished
/// pieces (<c>PiecesFinished.parents</c>) and counts who serves whom. Written by a fetch before the piece
/// is handed to the persister, read by the persister when it reports the piece.
/// </summary>
public sealed partial class TaskDownloader
{
    private string?[]? _servedBy;

    /// <summary>Remembers that <paramref name="peerId"/> served piece <paramref name="index"/>.</summary>
    private void NoteServedBy(int index, string peerId)
    {
        var servedBy = Volatile.Read(ref _servedBy)
            ?? Interlocked.CompareExchange(ref _servedBy, new string?[_layout.PieceCount], null)
            ?? _servedBy!;
        Volatile.Write(ref servedBy[index], peerId);
    }

    /// <summary>The peer each of <paramref name="indexes"/> came from, "" for a piece from the origin or held before.</summary>
    private string[] ServedBy(List<int> indexes)
    {
        var servedBy = Volatile.Read(ref _servedBy);
        var parents = new string[indexes.Count];
        for (var i = 0; i < parents.Length; i++)
        {
            parents[i] = servedBy is null ? "" : Volatile.Read(ref servedBy[indexes[i]]) ?? "";
        }
        return parents;
    }
}
